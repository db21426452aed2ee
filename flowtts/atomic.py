"""Atomic file writes: a file appears complete under its final name, or not at all.

Every write that matters (manifests, reports, audio, tokenizer models, caches) goes through here: the
bytes go to a temporary file in the same folder, get ordinary read permissions (mkstemp creates 0600)
and replace the target with ``os.replace``; ``write_bytes_atomic`` also fsyncs. A killed process
leaves at worst a ``*.part`` file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flowtts.errors import FlowTTSError

FILE_MODE = 0o644  # mkstemp makes 0600; corpus and model files are meant to be shared


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside ``path`` to write to. When the block ends normally the file
    gets mode 0644 and replaces ``path``; when it raises (or the process dies) ``path`` is untouched
    and the temporary file is removed (or left as ``.*.part``)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically, fsync'ed before the rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Writes UTF-8 ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def ensure_writable_dirs(dirs: list[Path], what: str) -> None:
    """Creates ``dirs`` and proves each writable with a throw-away temporary file, so a command
    fails with one line (``cannot write to <what>: …``) before it does any work."""
    try:
        for d in dirs:
            Path(d).mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=d):
                pass
    except OSError as e:
        raise FlowTTSError(f"cannot write to {what}: {e.strerror or e}") from e
