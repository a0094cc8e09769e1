"""The dashboard's handling of what a stranger can send, without a browser: escaping and uploads."""

from __future__ import annotations

import html
import re

import pytest

pytest.importorskip("panel", reason="the dashboard needs the app extra (pip install scslab[app])")

from panel.pane.markup import Markdown

from scslab.app.dashboard import MAX_UPLOAD, check_upload, text
from scslab.errors import ScslabError
from scslab.schemes.loader import builtin_text


def rendered(markdown: str) -> str:
    """The HTML that Panel's Markdown pane sends to the browser for ``markdown``."""
    m = Markdown(markdown)
    return html.unescape(m._transform_object(m.object)["object"])


@pytest.mark.parametrize(
    "hostile",
    [
        "<iframe src=x>",
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "*bold* _em_ `code` $x$ | cell",
        "# heading",
    ],
)
def test_text_shows_every_character_and_makes_no_markup(hostile: str) -> None:
    """In a table cell, as the dashboard's summary puts it: the characters, and no element."""
    out = rendered(f"| a | b |\n|---|---|\n| grade {text(hostile)} | 1 |")
    cell = re.search(r"<tbody>\s*<tr>\s*<td>(.*?)</td>", out, re.S)
    assert cell is not None, out
    assert "<" not in cell.group(1), cell.group(1)  # no element inside
    assert html.unescape(cell.group(1)) == f"grade {hostile}"


def test_an_upload_over_the_limit_is_refused_unread_with_the_limit_named() -> None:
    data = b"#" * (MAX_UPLOAD + 1)
    with pytest.raises(ScslabError, match=r"big\.yaml: the file is 2\.0 MB; .* up to 2 MB"):
        check_upload(data, "big.yaml")


def test_an_upload_is_checked_in_a_child_and_comes_back_as_the_scheme() -> None:
    scheme = check_upload(builtin_text("rongcheng-2014").encode(), "mine.yaml")
    assert scheme.id == "rongcheng-2014" and scheme.grades
    with pytest.raises(ScslabError, match=r"^bad\.yaml:2:1: this is not valid YAML") as err:
        check_upload(b"id: [unclosed\n", "bad.yaml")
    assert "\n" not in str(err.value)
