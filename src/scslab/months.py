"""Calendar months, ``YYYY-MM``: how scenarios and schemes write a date, and its month index.

A scenario's ``start``, its dated rates and layers, and a scheme's ``in_force`` dates are
calendar months; the engine counts months of the run from the scenario's start.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any


def calendar_month(value: Any) -> str:
    """``YYYY-MM`` from text or a date; a ``ValueError`` that says how to write it otherwise."""
    text = value.isoformat() if isinstance(value, date) else str(value)
    m = re.fullmatch(r"(\d{4})-(\d{2})", text) if isinstance(value, str) else None
    if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
        raise ValueError(f"'{text}' is not a calendar month; write YYYY-MM, e.g. 2013-10")
    return text


def month_index(text: str) -> int:
    """Months since year 0 of a ``YYYY-MM`` month."""
    year, month = text.split("-")
    return int(year) * 12 + int(month) - 1
