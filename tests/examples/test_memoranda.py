"""examples/memoranda/: the built-in defaulter-blacklist with dates, and nothing else changed."""

from __future__ import annotations

from pathlib import Path

from scslab.schemes import load_scheme

ROOT = Path(__file__).resolve().parents[2]
DATED = ROOT / "examples" / "memoranda" / "defaulter-blacklist-dated.yaml"


def test_the_dated_defaulter_list_is_the_builtin_with_dates_only() -> None:
    """Rule for rule the built-in's, once the dates are taken off; the dates are those the
    example's comments give, each with its source or assumed."""
    dated, builtin = load_scheme(DATED), load_scheme("defaulter-blacklist")
    when = {
        getattr(dated, str(key))[int(i)].id: (f.start_at, f.until, f.source, f.assumed)
        for (key, i), f in dated.scheduled()
    }
    assert when == {
        "high-speed-rail-ban": ("2015-07", None, "spc-2015", False),
        "public-office-ban": ("2016-10", None, None, True),
        "executive-post-ban": ("2016-10", None, None, True),
    }
    undated = dated.model_dump(exclude={"id", "name", "sources"})
    for rule in undated["sanctions"]:
        rule["in_force"] = None
    assert undated == builtin.model_dump(exclude={"id", "name", "sources"})
    assert set(dated.sources) == set(builtin.sources)
