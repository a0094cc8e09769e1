"""Score units and engine integers: the one place that converts between them.

A scheme writes its score-valued numbers (the range, points, grade bounds, thresholds, caps,
decay steps, the repair's restore point) in *score units*, which may be fractions: multiples of
the scheme's ``score.resolution`` (1, 0.5, 0.1, 0.01 or 0.001). The engine keeps scores as
integers: :func:`compile_scheme <scslab.engine.compiled.compile_scheme>` multiplies every such
number by :attr:`ScoreUnits.scale` (1 / resolution), exactly, and everything a user reads back
(stored tables, reports, ``explain``, the audit) divides by it again. A scheme at resolution 1
(the default) has scale 1: its numbers pass through unchanged, integers stay integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, overload

import numpy as np

#: The resolutions a scheme may give: 1/2 and the powers of ten down to a thousandth (a finer one
#: leaves the engine's int16 scores, -10,000..30,000 integers, a range of less than 40 points).
RESOLUTIONS: tuple[float, ...] = (1, 0.5, 0.1, 0.01, 0.001)
#: What the engine holds, in its integers: scores, grade bounds and thresholds (int16 columns,
#: with room for the arithmetic around them), and points, caps and decay steps.
ENGINE_SCORES = (-10_000, 30_000)
ENGINE_POINTS = (-30_000, 30_000)


def _decimal(value: float | int) -> Decimal:
    """``value`` as the decimal it was written as (a float's shortest repr: 0.1 is 0.1)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(float(value)))


def allowed(resolution: float | int) -> bool:
    """Whether ``resolution`` is one of :data:`RESOLUTIONS`."""
    try:
        r = _decimal(resolution)
    except (InvalidOperation, ValueError, TypeError, OverflowError):
        return False
    return any(r == _decimal(x) for x in RESOLUTIONS)


@dataclass(frozen=True)
class ScoreUnits:
    """A scheme's score units: ``resolution`` of a unit is one engine integer."""

    resolution: float | int = 1

    @property
    def scale(self) -> int:
        """Engine integers per score unit: 1 / resolution (1, 2, 10, 100 or 1000)."""
        return int(1 / _decimal(self.resolution))

    def multiple(self, value: float | int) -> bool:
        """Whether ``value`` is a whole multiple of the resolution."""
        if isinstance(value, bool) or not np.isfinite(value):
            return False
        return (_decimal(value) * self.scale) % 1 == 0

    def engine(self, value: float | int) -> int:
        """``value`` (score units) as engine integers, exactly; a value that is not a multiple
        of the resolution is a ``ValueError`` (the scheme's validation refuses those first)."""
        if not self.multiple(value):
            raise ValueError(f"{value} is not a multiple of the score resolution {self.resolution}")
        return int(_decimal(value) * self.scale)

    @overload
    def units(self, n: int | np.integer[Any]) -> int | float: ...
    @overload
    def units(self, n: np.ndarray) -> np.ndarray: ...
    def units(self, n: Any) -> Any:
        """Engine integers ``n`` (a number or an array) in score units: unchanged at scale 1,
        else divided by the scale (floats)."""
        if self.scale == 1:
            return int(n) if isinstance(n, int | np.integer) else n
        if isinstance(n, np.ndarray):
            return n / self.scale
        return int(n) / self.scale

    def from_units(self, x: np.ndarray) -> np.ndarray:
        """A column of scores or points in score units (as stored) back in engine integers."""
        if self.scale == 1:
            return x
        return np.rint(np.asarray(x, np.float64) * self.scale).astype(np.int64)

    def text(self, n: int | np.integer[Any]) -> str:
        """Engine integers ``n`` written in score units: ``-25`` at resolution 0.1 is ``-2.5``."""
        value = self.units(n)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def round_units(self, x: float) -> int | float:
        """The multiple of the resolution nearest ``x`` (score units), halves rounded up; an
        integer at scale 1. Sums and differences of stored scores come back exact with it."""
        n = int(np.floor(x * self.scale + 0.5))
        return n if self.scale == 1 else n / self.scale

    def value(self, x: Any) -> int | float:
        """A score or points value read back from a stored table: an ``int`` at scale 1, else
        a ``float`` in score units."""
        return int(x) if self.scale == 1 else float(x)


UNIT = ScoreUnits()


def of(score: Any) -> ScoreUnits:
    """The units of a scheme, or of its ``score`` block (anything with a ``resolution``)."""
    inner = getattr(score, "score", score)
    resolution = getattr(inner, "resolution", 1)
    return UNIT if resolution == 1 else ScoreUnits(resolution)


def show(x: float | int) -> str:
    """A number in score units as text: ``60`` for 60 or 60.0, ``-2.5`` for -2.5."""
    if isinstance(x, float | np.floating) and float(x).is_integer():
        return str(int(x))
    return str(x)


def signed(x: float | int) -> str:
    """Points with their sign: ``+5``, ``-2.5``, ``+0``."""
    return ("+" if x >= 0 else "") + show(x)
