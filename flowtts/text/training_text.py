"""Where tokenizer training text comes from: corpus manifests and plain text files, as (lang, text) pairs.

Both yield *normalized* text, because that is what the tokenizer sees at inference: manifest rows
carry ``normalized_text`` already; plain text files are normalized here, line by line. Problems with
the input (a missing folder, a corpus without manifests, a broken row, a bad ``FILE:LANG``) are
``FlowTTSError`` with one line that names the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from flowtts.constants import LANGUAGES
from flowtts.errors import FlowTTSError


def corpus_sentences(
    root: str | os.PathLike, splits: tuple[str, ...], counts: dict[str, int]
) -> Iterator[tuple[str, str]]:
    """(lang, normalized_text) of every manifest row of ``root`` in ``splits``; counts rows per language."""
    from flowtts.data.manifest import iter_corpus

    root = Path(root)
    if not root.is_dir():
        raise FlowTTSError(f"corpus folder {root} does not exist")
    if not any((root / "manifests").glob("*.jsonl")):
        raise FlowTTSError(f"corpus {root} has no manifests (expected {root / 'manifests'}/*.jsonl)")
    try:
        for row in iter_corpus(root):
            if row.split in splits and row.normalized_text.strip():
                counts[row.lang] = counts.get(row.lang, 0) + 1
                yield row.lang, row.normalized_text
    except (json.JSONDecodeError, TypeError, KeyError) as e:
        raise FlowTTSError(f"corpus {root} has a malformed manifest row: {e}") from None
    except UnicodeDecodeError as e:
        raise FlowTTSError(f"corpus {root} has a manifest that is not UTF-8: {e}") from None


def parse_text_file_arg(spec: str) -> tuple[Path, str]:
    """ "sentences.txt:fr" -> (Path("sentences.txt"), "fr"); checks the language and the file."""
    path, sep, lang = spec.rpartition(":")
    if not sep or not path:
        raise FlowTTSError(f"--text-file {spec!r}: expected FILE:LANG, e.g. sentences.txt:fr")
    if lang not in LANGUAGES:
        raise FlowTTSError(
            f"--text-file {spec!r}: unsupported language {lang!r} (supported: {', '.join(LANGUAGES)})"
        )
    if not Path(path).is_file():
        raise FlowTTSError(f"--text-file {spec!r}: no such file {path}")
    return Path(path), lang


def text_file_sentences(path: Path, lang: str, counts: dict[str, int]) -> Iterator[tuple[str, str]]:
    """(lang, normalized line) for every non-empty line of a UTF-8 text file."""
    from flowtts.text.normalize import normalize

    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                text = normalize(line, lang)
                if text:
                    counts[lang] = counts.get(lang, 0) + 1
                    yield lang, text
    except UnicodeDecodeError as e:
        raise FlowTTSError(f"{path} is not UTF-8 text: {e}") from None
    except OSError as e:
        raise FlowTTSError(f"cannot read {path}: {e.strerror or e}") from None
