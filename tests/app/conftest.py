"""The browser the dashboard's tests drive: Debian's Chromium, or a skip that says how to get it.

`make test` installs Chromium when it runs as root (``.ci/chromium``); as any other user, without
it, the browser tests are skipped with the one command that enables them and every other test runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

#: The one command that enables the browser tests on Debian or Ubuntu.
INSTALL = "sudo apt-get install --no-install-recommends chromium"


def find_chromium() -> str | None:
    """Debian's Chromium (``/usr/bin/chromium``) or a ``chromium`` on PATH; ``None`` if neither."""
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.fixture
def chromium() -> str:
    """The Chromium executable; the test is skipped, naming the install command, without one."""
    path = find_chromium()
    if path is None:
        pytest.skip(f"Chromium not found; install it with: {INSTALL}")
    return path
