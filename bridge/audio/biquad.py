"""Second-order EQ sections (RBJ Audio EQ Cookbook) for the six ReaEQ band shapes.

Every EQ move an assistant suggests is a :class:`~bridge.plan.SetEqBand` (shape, Hz, dB, Q). This
module turns such bands into filter coefficients, renders audio through a chain of them and gives
the chain's magnitude response, so the suggestions can be checked by ear and by numbers without a
DAW.

The shapes follow :data:`bridge.plan.BAND_TYPES` (ReaEQ's numbering 0..5) and Robert
Bristow-Johnson's *Audio EQ Cookbook* formulas with the Q form of ``alpha = sin(w0) / (2 Q)``:

* ``high_pass`` / ``low_pass``: 12 dB/octave, Q = 0.707 is Butterworth; gain ignored.
* ``low_shelf`` / ``high_shelf``: gain in dB at the shelf, ``freq_hz`` is the midpoint (half the
  gain); Q = 0.707 is the cookbook's steepest shelf without overshoot (slope S = 1).
* ``band``: peaking bell, ``gain_db`` at ``freq_hz``; Q sets the width.
* ``notch``: full-depth notch at ``freq_hz``; gain ignored.

ReaEQ shows and takes its width as a *bandwidth in octaves* (the OSC pattern ``.../q/oct``);
:func:`q_to_octaves` and :func:`octaves_to_q` convert with the cookbook relation
``1/Q = 2 sinh(ln(2)/2 * BW)``. Ardour's a-EQ also takes bandwidth in octaves. ReaEQ's own source
is closed; its bands behave as these cookbook sections to within the tolerances this project
checks (shape, centre, gain), not sample-for-sample.

Example::

    >>> import numpy as np
    >>> bell = EqBand("band", 1000.0, -6.0, 1.0)
    >>> round(float(magnitude_db([bell], np.array([1000.0]), 48000)[0]), 2)
    -6.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from bridge.plan import BAND_TYPES, SetEqBand

_LN2_HALF = math.log(2.0) / 2.0


@dataclass(frozen=True)
class EqBand:
    """One EQ band: shape (one of :data:`BAND_TYPES`), centre/corner in Hz, gain in dB, Q."""

    band_type: str
    freq_hz: float
    gain_db: float = 0.0
    q: float = 0.707

    def __post_init__(self) -> None:
        if self.band_type not in BAND_TYPES:
            raise ValueError(f"band type {self.band_type!r} not in {BAND_TYPES}")
        if not (self.freq_hz > 0 and self.q > 0):
            raise ValueError(f"freq_hz ({self.freq_hz}) and q ({self.q}) must be > 0")

    @classmethod
    def from_edit(cls, edit: SetEqBand) -> EqBand:
        return cls(edit.band_type, float(edit.freq_hz), float(edit.gain_db), float(edit.q))

    @property
    def has_gain(self) -> bool:
        """True for shapes whose ``gain_db`` matters (shelves and bells)."""
        return self.band_type in ("low_shelf", "band", "high_shelf")


def q_to_octaves(q: float) -> float:
    """Q to bandwidth in octaves (what ReaEQ and Ardour's a-EQ show). Q 1.414 -> 1.0 octave."""
    if q <= 0:
        raise ValueError("q must be > 0")
    return math.asinh(1.0 / (2.0 * q)) / _LN2_HALF


def octaves_to_q(octaves: float) -> float:
    """Bandwidth in octaves to Q. 1 octave -> Q 1.414; 2 octaves -> Q 0.667."""
    if octaves <= 0:
        raise ValueError("octaves must be > 0")
    return 1.0 / (2.0 * math.sinh(_LN2_HALF * octaves))


def band_sos(band: EqBand, sample_rate: float) -> np.ndarray:
    """One band as a normalised second-order section ``[b0, b1, b2, 1, a1, a2]``.

    A centre at or above Nyquist cannot be realised; such a band is clamped to 0.49 x rate
    for bells/shelves and left as a pass-through for a low-pass (it removes nothing audible).
    """
    nyquist = sample_rate / 2.0
    freq = band.freq_hz
    if freq >= 0.98 * nyquist:
        if band.band_type in ("low_pass", "notch"):
            return np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
        freq = 0.98 * nyquist
    w0 = 2.0 * math.pi * freq / sample_rate
    cos_w0 = math.cos(w0)
    alpha = math.sin(w0) / (2.0 * band.q)
    amp = 10.0 ** (band.gain_db / 40.0)
    kind = band.band_type
    if kind == "low_pass":
        b = [(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2]
        a = [1 + alpha, -2 * cos_w0, 1 - alpha]
    elif kind == "high_pass":
        b = [(1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2]
        a = [1 + alpha, -2 * cos_w0, 1 - alpha]
    elif kind == "notch":
        b = [1.0, -2 * cos_w0, 1.0]
        a = [1 + alpha, -2 * cos_w0, 1 - alpha]
    elif kind == "band":
        b = [1 + alpha * amp, -2 * cos_w0, 1 - alpha * amp]
        a = [1 + alpha / amp, -2 * cos_w0, 1 - alpha / amp]
    else:
        root = 2.0 * math.sqrt(amp) * alpha
        if kind == "low_shelf":
            b = [
                amp * ((amp + 1) - (amp - 1) * cos_w0 + root),
                2 * amp * ((amp - 1) - (amp + 1) * cos_w0),
                amp * ((amp + 1) - (amp - 1) * cos_w0 - root),
            ]
            a = [
                (amp + 1) + (amp - 1) * cos_w0 + root,
                -2 * ((amp - 1) + (amp + 1) * cos_w0),
                (amp + 1) + (amp - 1) * cos_w0 - root,
            ]
        else:  # high_shelf
            b = [
                amp * ((amp + 1) + (amp - 1) * cos_w0 + root),
                -2 * amp * ((amp - 1) + (amp + 1) * cos_w0),
                amp * ((amp + 1) + (amp - 1) * cos_w0 - root),
            ]
            a = [
                (amp + 1) - (amp - 1) * cos_w0 + root,
                2 * ((amp - 1) - (amp + 1) * cos_w0),
                (amp + 1) - (amp - 1) * cos_w0 - root,
            ]
    a0 = a[0]
    return np.array([b[0] / a0, b[1] / a0, b[2] / a0, 1.0, a[1] / a0, a[2] / a0])


def chain_sos(bands: Iterable[EqBand | SetEqBand], sample_rate: float) -> np.ndarray:
    """A chain of bands as an ``(n, 6)`` SOS array (an empty chain is one pass-through row)."""
    rows = [band_sos(_as_band(b), sample_rate) for b in bands]
    if not rows:
        rows = [np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])]
    return np.vstack(rows)


def render_chain(
    samples: np.ndarray, sample_rate: float, bands: Sequence[EqBand | SetEqBand]
) -> np.ndarray:
    """Filter audio through the chain (time along axis 0; mono or multichannel), float64 out.

    >>> import numpy as np
    >>> x = np.zeros(64); x[0] = 1.0
    >>> y = render_chain(x, 48000, [EqBand("band", 1000.0, 0.0, 1.0)])
    >>> bool(np.allclose(x, y))
    True
    """
    from scipy.signal import sosfilt

    data = np.asarray(samples, dtype=np.float64)
    if not bands:
        return data.copy()
    return sosfilt(chain_sos(bands, sample_rate), data, axis=0)


def magnitude_db(
    bands: Sequence[EqBand | SetEqBand], freqs_hz: np.ndarray, sample_rate: float
) -> np.ndarray:
    """The chain's magnitude response in dB at ``freqs_hz`` (digital, at ``sample_rate``)."""
    from scipy.signal import sosfreqz

    freqs = np.asarray(freqs_hz, dtype=np.float64)
    if not bands:
        return np.zeros_like(freqs)
    _, response = sosfreqz(chain_sos(bands, sample_rate), worN=freqs, fs=sample_rate)
    return 20.0 * np.log10(np.maximum(np.abs(response), 1e-12))


def _as_band(band: EqBand | SetEqBand) -> EqBand:
    if isinstance(band, EqBand):
        return band
    if isinstance(band, SetEqBand):
        return EqBand.from_edit(band)
    raise TypeError(f"expected EqBand or SetEqBand, got {type(band).__name__}")
