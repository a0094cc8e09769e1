"""The ``scslab serve`` dashboard: run a scheme in the browser and look at what it did."""

from __future__ import annotations

from scslab.app.dashboard import Dashboard, create_app

__all__ = ["Dashboard", "create_app"]
