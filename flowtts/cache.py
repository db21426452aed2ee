"""Where flowtts keeps caches that can be rebuilt (extracted text, private espeak data): one place."""

from __future__ import annotations

import os
from pathlib import Path


def cache_home() -> Path:
    """``$FLOWTTS_CACHE``, or ``~/.cache/flowtts``."""
    base = os.environ.get("FLOWTTS_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "flowtts"
