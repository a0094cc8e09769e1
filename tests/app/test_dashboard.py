"""The dashboard in a real browser: Playwright for Python driving Debian's Chromium.

The server runs in a subprocess, started with ``python -c`` on ``scslab.cli.serve.serve`` so that
the test does not depend on the command being registered. The browser may reach 127.0.0.1 only:
every other request is aborted and makes the test fail.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest

from scslab.schemes.loader import builtin_text

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make install)")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the server did not listen on {port} within {timeout:.0f} s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _text(locator: Locator) -> str:
    """The text a Panel pane shows: Bokeh renders it inside the element's shadow root."""
    text: str = locator.evaluate(
        "el => (el.shadowRoot ? el.shadowRoot.textContent : '') + el.textContent"
    )
    return text


def _broken_scheme(tmp_path: Path) -> tuple[Path, int]:
    """A built-in scheme with the key ``description`` misspelt; the file and that line's number."""
    lines = builtin_text("rongcheng-2014").splitlines(keepends=True)
    line = next(i for i, text in enumerate(lines) if text.startswith("description:"))
    lines[line] = lines[line].replace("description:", "descriptoin:", 1)
    path = tmp_path / "broken.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path, line + 1


@contextmanager
def _dashboard(
    tmp_path: Path, chromium: str, setup: str = ""
) -> Iterator[tuple[Callable[[], Page], Path]]:
    """A dashboard server (``setup``: Python it runs first) in ``tmp_path/server``, and a way to
    open a page on it in a headless Chromium that may reach 127.0.0.1 only; the runs folder.

    On the way out: no page asked for anything outside, and the server wrote nothing outside its
    runs folder."""
    from playwright.sync_api import Route, sync_playwright

    port = _free_port()
    home = tmp_path / "server"
    home.mkdir()
    runs = home / "runs"
    log = home / "server.log"
    code = (
        f"{setup}\nfrom pathlib import Path; from scslab.cli.serve import serve; "
        f"serve(port={port}, runs=Path({str(runs)!r}))"
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=home,
            start_new_session=True,
        )
    blocked: list[str] = []

    def only_local(route: Route) -> None:
        host = urlparse(route.request.url).hostname
        if host in {"127.0.0.1", "localhost"}:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    try:
        _wait_for_port(port, proc, log, timeout=30)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium, headless=True, args=CHROMIUM_ARGS, timeout=30_000
            )

            def new_page() -> Page:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(30_000)
                page.route("**/*", only_local)
                page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
                return page

            try:
                yield new_page, runs
            finally:
                browser.close()
    finally:
        _stop(proc)
    assert not blocked, f"the page asked for outside resources: {blocked}"
    written = {p.name for p in home.iterdir()}
    assert written <= {"runs", "server.log"}, written


def test_dashboard_runs_a_scenario_and_reports_a_broken_scheme(
    tmp_path: Path, chromium: str
) -> None:
    with _dashboard(tmp_path, chromium) as (new_page, runs):
        page = new_page()
        # a 10,000-person, one-year run through the page
        agents = page.locator(".scs-agents input")
        agents.fill("10000")
        agents.press("Enter")
        years = page.locator(".scs-years input")
        years.fill("1")
        years.press("Enter")
        page.locator(".scs-run button").click()
        page.locator(".scs-summary").wait_for(timeout=45_000)
        plots = page.locator(".scs-results .js-plotly-plot")
        plots.first.wait_for()
        assert plots.count() >= 3
        points = plots.first.evaluate(
            "el => el.data.reduce((n, t) => n + (t.z || t.y || []).length, 0)"
        )
        assert points > 0, "the score distribution has no data"
        traces = plots.nth(1).evaluate("el => el.data.length")
        assert traces > 0, "the grade shares have no traces"
        summary = _text(page.locator(".scs-summary"))
        assert "10,000 people" in summary, summary
        assert list(runs.glob("*/results/results.duckdb")), "no run in the runs folder"

        # a size the machine cannot hold is refused with the CLI's memory message
        agents.fill("100000000000")
        agents.press("Enter")
        page.locator(".scs-run button").click()
        refusal = _text(page.locator(".scs-error"))
        assert "GiB" in refusal and "use fewer agents" in refusal, refusal

        # two schemes side by side, on a small population
        agents.fill("2000")
        agents.press("Enter")
        page.get_by_text("Compare", exact=True).first.click()
        page.locator(".scs-compare button").click()
        page.locator(".scs-compare-results .js-plotly-plot").nth(3).wait_for()

        # a broken scheme is refused with the CLI's message, line number included
        broken, line = _broken_scheme(tmp_path)
        page.locator(".scs-upload input[type=file]").set_input_files(str(broken))
        error = page.locator(".scs-scheme-error")
        error.wait_for()
        text = _text(error)
        assert f"broken.yaml:{line}:" in text, text
        assert "descriptoin" in text and "did you mean 'description'" in text, text

        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        extra = os.environ.get("SCSLAB_SCREENSHOT")
        if extra:
            page.screenshot(path=extra, full_page=True)


def _hostile_scheme(folder: Path) -> Path:
    """Rongcheng with two grades named like HTML, in a file whose name is HTML too."""
    text = builtin_text("rongcheng-2014")
    assert text.count("{id: AA, ") == 1 and text.count("{id: A, ") == 1
    text = text.replace("{id: AA, ", '{id: "<script>", ').replace("{id: A, ", '{id: "<iframe>", ')
    path = folder / "<img src=x onerror=alert(1)>.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _slow_scheme(folder: Path) -> Path:
    """A valid scheme file, named ``slow.yaml``: the server under test reads it slowly (see
    :data:`SLOW_READER`)."""
    path = folder / "slow.yaml"
    path.write_text(builtin_text("rongcheng-2014"), encoding="utf-8")
    return path


#: The loader reads any file within the dashboard's caps (2 MB, 200,000 values) in seconds: no
#: portable file is slower to read than the limit. So the server under test reads a file named
#: ``slow.yaml`` in a child that first waits two minutes, standing for such a file; every other
#: upload is read as always. What is tested is the dashboard's side: the limit, the child killed,
#: the one-line reason, and other sessions served meanwhile.
SLOW_READER = (
    "import scslab.app.dashboard as dashboard; dashboard.PARSE_SECONDS = 15; "
    "dashboard._CHILD = "
    "'import sys, time\\nif sys.argv[1] == \"slow.yaml\": time.sleep(120)\\n' + dashboard._CHILD"
)


def _run_small(page: Page) -> str:
    """Run 1,000 people for three months in ``page``; the summary's text."""
    agents = page.locator(".scs-agents input")
    agents.fill("1000")
    agents.press("Enter")
    years = page.locator(".scs-years input")
    years.fill("0.25")
    years.press("Enter")
    page.locator(".scs-run button").click()
    summary = page.locator(".scs-summary")
    summary.wait_for(timeout=45_000)
    return _text(summary)


def test_uploads_show_as_text_and_a_slow_one_is_stopped_while_other_sessions_run(
    tmp_path: Path, chromium: str
) -> None:
    """Grade ids and a file name made of HTML are shown as typed, never rendered; a file too slow
    to read is refused with the reason, and while it is being read another session still runs.
    (The server gets a 15 s limit, so that the other session has time to run within it.)"""
    with _dashboard(tmp_path, chromium, SLOW_READER) as (new_page, _):
        page = new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        hostile = _hostile_scheme(tmp_path)
        page.locator(".scs-upload input[type=file]").set_input_files(str(hostile))
        ok = _text(page.locator(".scs-scheme-ok"))
        assert f"{hostile.name}: scheme 'rongcheng-2014' is valid" in ok, ok
        shown = _run_small(page)
        assert "grade <iframe>" in shown and "grade <script>" in shown, shown
        # Playwright's CSS selectors pierce Bokeh's shadow roots: none of it became an element
        assert page.locator("iframe, img[src='x'], .scs-summary script").count() == 0
        assert not dialogs, dialogs

        page.locator(".scs-upload input[type=file]").set_input_files(str(_slow_scheme(tmp_path)))
        page.locator(".scs-scheme-checking").wait_for()
        other = new_page()  # a new session is served, and runs, while the file is read
        assert "1,000 people" in _run_small(other)
        assert page.locator(".scs-scheme-checking").count() == 1, "the upload was not read aside"
        error = page.locator(".scs-scheme-error")
        error.wait_for(timeout=30_000)
        text = _text(error)
        assert "slow.yaml: reading the file took longer than 15 s and was stopped" in text, text
