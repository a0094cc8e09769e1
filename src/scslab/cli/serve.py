# Panel's widget constructors are not annotated (param-based); calling them is fine.
"""``scslab serve``: the Panel dashboard on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scslab.cli import console

#: The largest websocket message the server accepts: uploads up to about 48 MB reach the page's
#: size check and are refused with a message; bigger ones close the browser's connection.
WEBSOCKET_MAX_BYTES = 64 * 2**20


def serve(
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="the port to listen on (127.0.0.1 only)")
    ] = 5006,
    runs: Annotated[
        Path,
        typer.Option(help="the folder for the dashboard's runs; nothing outside it is touched"),
    ] = Path("runs/dashboard"),
    show: Annotated[bool, typer.Option(help="open a browser tab")] = False,
) -> None:
    """Serve the dashboard: run schemes, see the report's figures, compare two schemes."""
    from scslab.optional import need

    pn = need("panel", feature="scslab serve", extra="app")
    from scslab.app.dashboard import create_app

    page = create_app(runs)
    url = f"http://127.0.0.1:{port}/"
    console.print(f"scslab dashboard at {url} (runs in {runs.resolve()}); Ctrl-C stops it")
    pn.serve(
        page,
        address="127.0.0.1",
        port=port,
        show=show,
        websocket_origin=[f"127.0.0.1:{port}", f"localhost:{port}"],
        title="scslab",
        threaded=False,
        # an upload travels in one websocket message (base64, so 4/3 of the file); over the
        # limit the connection drops, so it is set well above the dashboard's own 2 MB limit,
        # which the page explains when it refuses a file
        websocket_max_message_size=WEBSOCKET_MAX_BYTES,
    )
