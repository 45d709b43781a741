"""Keep linear algebra on one thread while restoring.

The restoration processes solve thousands of tiny systems (AR fits, LSAR gaps). A threaded
BLAS spreads each of them over every core and then spins waiting for work; on a busy machine
that costs ten to twenty times the arithmetic. One thread per process is both faster and
fair to the other jobs on the machine::

    >>> import numpy as np
    >>> with one_blas_thread():
    ...     float(np.linalg.solve(np.eye(3) * 2.0, np.ones(3))[0])
    0.5
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def one_blas_thread() -> AbstractContextManager[Any]:
    """A context that limits BLAS/LAPACK to one thread (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn/librosa
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def single_threaded(fn: F) -> F:
    """Decorator: run ``fn`` under :func:`one_blas_thread`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_blas_thread():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
