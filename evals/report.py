"""What every evaluation report starts with, and how it is written.

    header = report_header("codec step 30000", codec.config.to_dict())
    write_report("reports", "codec-test", {**header, "results": ...}, markdown)

The header pins a number to what produced it: the model, a hash of its config, the code (git commit,
``-dirty`` when the working tree differs from it, untracked files included), the machine and the date.
Reports are JSON (machine-readable, NaN/inf written as ``null``) plus Markdown (for people), both written
atomically.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from flowtts.atomic import write_text_atomic

REPO_ROOT = Path(__file__).resolve().parents[1]


def config_hash(config: dict) -> str:
    """First 16 hex digits of the sha256 of the config as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(
        to_jsonable(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def git_commit(repo: str | os.PathLike = REPO_ROOT) -> str:
    """Short sha of HEAD, with ``-dirty`` if tracked or untracked files differ from it; ``unknown`` without
    git or outside a repository."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=20
        ).stdout.strip()

    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha or "unknown"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else ``platform.processor()`` or ``unknown``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    """Platform, CPU model, core count, Python and torch versions, the CUDA device (or None)."""
    info = {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": None,
        "torch_threads": None,
        "cuda_device": None,
    }
    try:
        import torch
    except ImportError:
        return info
    info["torch"] = torch.__version__
    info["torch_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def report_header(model_name: str, config: dict) -> dict:
    """The fields every report starts with: model, config hash, git commit, machine, UTC date."""
    from flowtts import __version__

    return {
        "model": model_name,
        "config_hash": config_hash(config),
        "git_commit": git_commit(),
        "flowtts_version": __version__,
        "machine": machine_info(),
        "date_utc": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }


def to_jsonable(value):
    """A copy of ``value`` that ``json.dumps(allow_nan=False)`` accepts: NaN/inf -> None, numpy scalars and
    arrays -> Python numbers and lists, tuples/sets -> lists, paths -> strings."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v) for v in items]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):  # numpy scalars / arrays, torch tensors
        return to_jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    return str(value)


def markdown_document(lines: list[str], notes: list[str] | tuple[str, ...] = ()) -> str:
    """A report's Markdown: ``lines``, then a ``## Notes`` list when there are ``notes``."""
    if notes:
        lines = [*lines, "", "## Notes", "", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | os.PathLike, name: str, report: dict, markdown: str) -> tuple[Path, Path]:
    """Writes ``<out_dir>/<name>.json`` and ``<name>.md`` atomically (creating ``out_dir``); returns both."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    text = json.dumps(to_jsonable(report), indent=1, ensure_ascii=False, allow_nan=False)
    write_text_atomic(json_path, text + "\n")
    write_text_atomic(md_path, markdown if markdown.endswith("\n") else markdown + "\n")
    return json_path, md_path
