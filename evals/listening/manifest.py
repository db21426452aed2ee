"""``test.json``: what a built test folder holds, written by ``build`` and read by ``serve`` and ``analyze``.

    <test folder>/
        test.json          this manifest (which opaque file is which item × condition; never served)
        audio/<16 hex>.wav the stimuli, 16-bit PCM; names say nothing about the condition
        results.sqlite     the answers (created by ``serve``; see store.py)

The manifest names every stimulus by the condition it is, so only the server (never the page) can tell
which file is the hidden reference: the hidden reference is a copy of the open one under its own name.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flowtts.errors import FlowTTSError

FORMAT_VERSION = 1
MANIFEST_NAME = "test.json"
AUDIO_DIR = "audio"
DB_NAME = "results.sqlite"
TOKEN_RE = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Stimulus:
    """One audio file of an item. ``token`` (16 hex digits) is its file stem and its id on the page."""

    condition: str
    token: str
    seconds: float
    lufs: float | None  # measured after matching; None for silence
    gain_db: float
    limited: bool  # the peak ceiling kept it below the loudness target

    @property
    def file(self) -> str:
        return f"{AUDIO_DIR}/{self.token}.wav"


@dataclass(frozen=True)
class ItemEntry:
    """An item as built: its text, language, open reference (``None`` when the config gave none) and its
    stimuli (MUSHRA: the systems, the hidden reference and both anchors; win rate: the systems)."""

    id: str
    text: str
    language: str | None
    reference: Stimulus | None
    stimuli: tuple[Stimulus, ...]

    def stimulus(self, condition: str) -> Stimulus:
        for s in self.stimuli:
            if s.condition == condition:
                return s
        raise KeyError(condition)


@dataclass(frozen=True)
class SystemInfo:
    """Where a condition's audio came from (for reports): ``source`` is folder, synthesis or builder (the
    hidden reference and the anchors); ``details`` the folder, or model, model name, voice, steps, …"""

    name: str
    source: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    """A built test. ``conditions`` are the stimuli of every screen (MUSHRA) or the systems (win rate);
    ``pairs`` the compared pairs (win rate); ``build`` the report header of the build (model, config hash,
    commit, machine, date) and ``config`` the config as read."""

    kind: str
    name: str
    build_id: str
    title: str
    instructions: str
    question: str
    sample_rate: int
    loudness_lufs: float
    peak_dbfs: float
    training_items: int
    tie: bool
    conditions: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    systems: tuple[SystemInfo, ...]
    items: tuple[ItemEntry, ...]
    config: dict
    build: dict
    format_version: int = FORMAT_VERSION

    def item(self, item_id: str) -> ItemEntry:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    def tokens(self) -> dict[str, tuple[str, str | None]]:
        """Every audio token -> (item id, condition; ``None`` for the open reference)."""
        out: dict[str, tuple[str, str | None]] = {}
        for it in self.items:
            if it.reference is not None:
                out[it.reference.token] = (it.id, None)
            for s in it.stimuli:
                out[s.token] = (it.id, s.condition)
        return out

    @property
    def model_name(self) -> str:
        """What reports call "the model": the test and its systems, with the model names they came from."""
        parts = []
        for s in self.systems:
            if s.source == "builder":
                continue
            model = s.details.get("model_name")
            parts.append(f"{s.name} ({model})" if model else s.name)
        return f"{self.kind} {self.name}: " + ", ".join(parts)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> Manifest:
        def stim(x: dict | None) -> Stimulus | None:
            return None if x is None else Stimulus(**x)

        items = tuple(
            ItemEntry(
                id=it["id"],
                text=it["text"],
                language=it["language"],
                reference=stim(it["reference"]),
                stimuli=tuple(Stimulus(**s) for s in it["stimuli"]),
            )
            for it in d["items"]
        )
        return Manifest(
            **{
                **d,
                "conditions": tuple(d["conditions"]),
                "pairs": tuple(tuple(p) for p in d["pairs"]),
                "systems": tuple(SystemInfo(**s) for s in d["systems"]),
                "items": items,
            }
        )


def manifest_path(test_dir: str | os.PathLike) -> Path:
    return Path(test_dir) / MANIFEST_NAME


def load_manifest(test_dir: str | os.PathLike, kind: str | None = None, check_audio: bool = True) -> Manifest:
    """Reads ``<test_dir>/test.json``; with ``kind``, the test must be of that kind; with ``check_audio``,
    every stimulus file must be there.

    Raises:
        FlowTTSError: not a test folder, an unreadable or foreign manifest, a missing audio file.
    """
    test_dir = Path(test_dir)
    path = manifest_path(test_dir)
    if not test_dir.is_dir():
        raise FlowTTSError(f"test folder {test_dir} does not exist (make one with `flowtts eval … build`)")
    if not path.is_file():
        raise FlowTTSError(f"{test_dir} is not a listening-test folder (no {MANIFEST_NAME})")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        version = d.get("format_version")
        if version != FORMAT_VERSION:
            raise FlowTTSError(
                f"{path}: format_version {version!r} is not {FORMAT_VERSION}; rebuild the test"
            )
        manifest = Manifest.from_dict(d)
    except FlowTTSError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise FlowTTSError(f"{path}: not a readable test manifest ({type(e).__name__}: {e})") from None
    if kind is not None and manifest.kind != kind:
        raise FlowTTSError(
            f"{test_dir} holds a {manifest.kind} test; use `flowtts eval {manifest.kind} …` for it"
        )
    if check_audio:
        for token in manifest.tokens():
            f = test_dir / AUDIO_DIR / f"{token}.wav"
            if not TOKEN_RE.match(token) or not f.is_file():
                raise FlowTTSError(
                    f"{test_dir}: stimulus {AUDIO_DIR}/{token}.wav is missing; rebuild the test"
                )
    return manifest
