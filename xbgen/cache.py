"""Where xbgen keeps downloads and build products between runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/xbgen`` (else ``~/.cache/xbgen``), created if missing."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "xbgen"
    path.mkdir(parents=True, exist_ok=True)
    return path
