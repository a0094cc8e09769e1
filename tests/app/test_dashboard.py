"""The dashboard in a real browser: Playwright for Python driving Debian's Chromium.

The server runs in a subprocess, started with ``python -c`` on ``scslab.cli.serve.serve`` so that
the test does not depend on the command being registered. The browser may reach 127.0.0.1 only:
every other request is aborted and makes the test fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest

from scslab.schemes.loader import builtin_text

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])"
)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _chromium() -> str | None:
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


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


def test_dashboard_runs_a_scenario_and_reports_a_broken_scheme(tmp_path: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (`make browser` installs Debian's chromium)")

    port = _free_port()
    runs = tmp_path / "runs"
    log = tmp_path / "server.log"
    code = (
        "from pathlib import Path; from scslab.cli.serve import serve; "
        f"serve(port={port}, runs=Path({str(runs)!r}))"
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
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
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(30_000)
                page.route("**/*", only_local)
                page.goto(f"http://127.0.0.1:{port}/", wait_until="load")

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
            finally:
                browser.close()
    finally:
        _stop(proc)
    assert not blocked, f"the page asked for outside resources: {blocked}"
    # the server wrote nothing outside its runs folder
    outside = {p.name for p in tmp_path.iterdir()} - {"runs", "server.log", "broken.yaml"}
    assert outside <= {"dashboard.png"}, outside
