"""Debouncing: a burst of file events becomes one save per project.

A DAW save is several events (temp file written, renamed, backup written, folder touched).
:class:`Debouncer` waits until a key (the project path) has been quiet for ``quiet_s`` and then
fires once for it; keys are independent, so two projects saved at once fire separately. A
``max_wait_s`` bound stops a file that never goes quiet from being starved forever::

    >>> fired = []
    >>> d = Debouncer(0.05, fired.append)
    >>> d.start()
    >>> for _ in range(5):
    ...     d.touch("song.RPP")
    >>> d.flush(timeout=1.0)
    True
    >>> fired
    ['song.RPP']
    >>> d.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger("bridge.watch")

K = TypeVar("K", bound=Hashable)


class Debouncer(Generic[K]):
    """Fire ``fire(key)`` once per key after ``quiet_s`` seconds without a ``touch(key)``.

    ``fire`` runs on the debouncer's own thread, one call at a time; exceptions it raises are
    logged and do not stop the thread.
    """

    def __init__(self, quiet_s: float, fire: Callable[[K], None], *,
                 max_wait_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if quiet_s < 0:
            raise ValueError(f"quiet_s must be >= 0, got {quiet_s}")
        self.quiet_s = quiet_s
        self.max_wait_s = max(max_wait_s if max_wait_s is not None else 10 * quiet_s + 2.0,
                              quiet_s)
        self._fire = fire
        self._clock = clock
        self._cond = threading.Condition()
        self._deadline: dict[K, float] = {}
        self._first: dict[K, float] = {}
        self._firing = 0
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="studio-bridge-debounce",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop without firing what is still pending."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def touch(self, key: K, quiet_s: float | None = None) -> None:
        """An event for ``key``: (re)start its quiet period (``quiet_s`` for this event only,
        e.g. shorter after an event that is known to complete a write)."""
        now = self._clock()
        wait = self.quiet_s if quiet_s is None else max(0.0, quiet_s)
        with self._cond:
            first = self._first.setdefault(key, now)
            self._deadline[key] = min(now + wait, first + self.max_wait_s)
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._deadline)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is pending or firing; False on timeout."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._deadline or self._firing:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                now = self._clock()
                due = [k for k, t in self._deadline.items() if t <= now]
                if not due:
                    wait = min(self._deadline.values(), default=now + 1.0) - now
                    self._cond.wait(max(0.001, min(wait, 1.0)))
                    continue
                for key in due:
                    del self._deadline[key]
                    del self._first[key]
                self._firing += 1
            try:
                for key in due:
                    try:
                        self._fire(key)
                    except Exception:  # a bad key must not kill the watcher
                        log.exception("handling %s failed", key)
            finally:
                with self._cond:
                    self._firing -= 1
                    self._cond.notify_all()
