"""The listening-test config: one TOML file, read here and nowhere else.

    kind = "mushra"                        # or "winrate" (blind A/B); optional, the command says it too
    name = "v1-vs-baseline"                # names the test folder and the reports
    title = "Speech quality"               # shown to listeners (optional)
    instructions = "Rate each sample …"    # shown on the welcome page (optional)
    training_items = 1                     # items on the training page (heard, not rated)
    sample_rate = 24000                    # every stimulus is resampled to this rate
    loudness_lufs = -23.0                  # every stimulus is loudness-matched to this (BS.1770)
    peak_dbfs = -1.0                       # sample-peak ceiling; a louder peak lowers that stimulus's gain

    [[items]]
    id = "en-001"                          # letters, digits, '.', '_', '-' (names files)
    text = "The birch canoe slid on the smooth planks."
    language = "en"
    reference = "refs/en-001.wav"          # natural recording: MUSHRA's open + hidden reference, anchors

    [[conditions]]
    name = "baseline"
    folder = "systems/baseline"            # <folder>/<item id>.wav (or .flac, .ogg, …)

    [[conditions]]
    name = "ours"
    model = "runs/tts/release"             # synthesized with flowtts.load(model).synthesize(text, …)
    voice = "en-f1"                        # a preset name, or a table by language: {en = "en-f1", …}
    # voice_clip = "clips/speaker.wav"     # or clone from a clip (not both)
    steps = 8
    cfg = 1.2
    seed = 0

Win-rate tests also take ``tie = true`` (offer "no preference"), ``pairs = [["ours", "baseline"]]``
(default: every pair of conditions) and ``question`` (the prompt above the vote buttons); MUSHRA tests
refuse these keys. Relative paths are relative to the config file. Unknown keys are errors, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.listening.records import HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR
from flowtts.errors import FlowTTSError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KINDS = ("mushra", "winrate")
#: Names the MUSHRA builder gives the stimuli it adds; a condition of the config may not take them.
RESERVED_CONDITIONS = (HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR)
#: Rates a stimulus may be resampled to. 16 kHz is the lowest where the 7 kHz anchor still means something.
SAMPLE_RATES = (16000, 22050, 24000, 32000, 44100, 48000)
DEFAULT_SAMPLE_RATE = 24000
DEFAULT_LOUDNESS_LUFS = -23.0  # EBU R128 programme loudness: ~20 dB of headroom below full scale for speech
DEFAULT_PEAK_DBFS = -1.0
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ID_RULE = "1–64 letters, digits, '.', '_' or '-', starting with a letter or digit"

TOP_KEYS = {
    "kind",
    "name",
    "title",
    "instructions",
    "question",
    "training_items",
    "sample_rate",
    "loudness_lufs",
    "peak_dbfs",
    "tie",
    "pairs",
    "items",
    "conditions",
}
WINRATE_ONLY = ("tie", "pairs", "question")
ITEM_KEYS = {"id", "text", "language", "reference"}
FOLDER_KEYS = {"name", "folder"}
SYNTH_KEYS = {"name", "model", "voice", "voice_clip", "steps", "cfg", "seed"}


@dataclass(frozen=True)
class Item:
    """One text/recording the listeners hear every condition of. ``reference`` is the natural recording
    (MUSHRA: required, it becomes the open and hidden reference and the anchors; win rate: optional,
    played as an open reference)."""

    id: str
    text: str
    language: str | None
    reference: Path | None


@dataclass(frozen=True)
class FolderSource:
    """Ready-made audio: ``<folder>/<item id>.<any audio suffix>``, one file per item."""

    folder: Path


@dataclass(frozen=True)
class SynthesisSource:
    """Audio made by ``flowtts.load(model).synthesize(item.text, voice, lang=item.language, …)``.

    ``voice_by_language`` (from a TOML table) wins over ``voice`` for the items of its languages;
    ``voice_clip`` clones one voice from a clip instead; none of them: the model's first preset voice.
    """

    model: Path
    voice: str | None = None
    voice_by_language: dict[str, str] = field(default_factory=dict)
    voice_clip: Path | None = None
    steps: int | None = None
    cfg: float | None = None
    seed: int = 0

    def voice_for(self, language: str | None) -> str | None:
        return self.voice_by_language.get(language or "", self.voice)


@dataclass(frozen=True)
class Condition:
    """A system under test: a name (never shown to listeners) and where its audio comes from."""

    name: str
    source: FolderSource | SynthesisSource


@dataclass(frozen=True)
class Pair:
    """Two systems compared head to head in a win-rate test (the shown order is randomized per listener)."""

    a: str
    b: str


@dataclass(frozen=True)
class ListeningConfig:
    """A whole test as configured. ``raw`` is the TOML as read (its hash pins reports to the config)."""

    path: Path
    kind: str
    name: str
    title: str
    instructions: str
    question: str
    items: tuple[Item, ...]
    conditions: tuple[Condition, ...]
    training_items: int
    tie: bool
    pairs: tuple[Pair, ...]
    sample_rate: int
    loudness_lufs: float
    peak_dbfs: float
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def condition_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.conditions)


DEFAULT_TITLES = {"mushra": "Listening test", "winrate": "Which one sounds better?"}
DEFAULT_INSTRUCTIONS = {
    "mushra": "Each screen plays one sentence in several versions. Listen to the reference, then rate every "
    "version from 0 (bad) to 100 (excellent) compared with it. One of the versions is the reference "
    "itself: rate it 100. Switch between versions as often as you like; the playback position is kept.",
    "winrate": "Each screen plays one sentence in two versions, A and B. Listen to both, then choose the one "
    "that sounds better overall (natural, clear, pleasant).",
}
DEFAULT_QUESTION = "Which version sounds better?"


class _Reader:
    """Typed access to one TOML table with errors that name the file and the key."""

    def __init__(self, path: Path, where: str, table: Any, allowed: set[str]):
        self.source, self.where = path, where
        if not isinstance(table, dict):
            self.fail(f"expected a table, got {type(table).__name__}")
        unknown = sorted(set(table) - allowed)
        if unknown:
            self.fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})", key=None)
        self.table = table

    def fail(self, message: str, key: str | None = None):
        at = f"{self.where}.{key}" if key and self.where else (key or self.where)
        raise FlowTTSError(f"{self.source}: {at + ': ' if at else ''}{message}")

    def has(self, key: str) -> bool:
        return key in self.table

    def text(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        if key not in self.table:
            if required:
                self.fail("is required", key)
            return default
        v = self.table[key]
        if not isinstance(v, str):
            self.fail(f"expected a string, got {type(v).__name__}", key)
        return v

    def whole(self, key: str, default: int | None, lo: int, hi: int) -> int | None:
        if key not in self.table:
            return default
        v = self.table[key]
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(f"expected a whole number, got {v!r}", key)
        if not lo <= v <= hi:
            self.fail(f"must be in {lo}..{hi}, got {v}", key)
        return v

    def number(self, key: str, default: float | None, lo: float, hi: float) -> float | None:
        if key not in self.table:
            return default
        v = self.table[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.fail(f"expected a finite number, got {v!r}", key)
        if not lo <= v <= hi:
            self.fail(f"must be in {lo:g}..{hi:g}, got {v:g}", key)
        return float(v)

    def flag(self, key: str, default: bool) -> bool:
        if key not in self.table:
            return default
        v = self.table[key]
        if not isinstance(v, bool):
            self.fail(f"expected true or false, got {v!r}", key)
        return v

    def path(self, key: str, base: Path, required: bool = False) -> Path | None:
        text = self.text(key, required=required)
        if text is None:
            return None
        if not text.strip():
            self.fail("is an empty path", key)
        p = Path(os.path.expanduser(text))
        return p if p.is_absolute() else base / p

    def ident(self, key: str) -> str:
        v = self.text(key, required=True)
        if not ID_RE.match(v):
            self.fail(f"{v!r} is not a valid name ({ID_RULE})", key)
        return v


def load_config(path: str | os.PathLike, kind: str | None = None) -> ListeningConfig:
    """Reads and checks a test config. ``kind`` (the command's, "mushra" or "winrate") must agree with the
    file's ``kind`` when both are given. Checks structure only; the audio files are checked by ``build``.

    Raises:
        FlowTTSError: unreadable TOML, an unknown key, a wrong type or value, a missing required key.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as e:
        raise FlowTTSError(f"cannot read the test config {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise FlowTTSError(f"{path}: not valid TOML ({e})") from None
    return parse_config(raw, path, kind)


def parse_config(raw: dict, path: Path, kind: str | None = None) -> ListeningConfig:
    """``load_config`` on an already parsed TOML document (paths resolve against ``path.parent``)."""
    base = path.parent
    top = _Reader(path, "", raw, TOP_KEYS)
    file_kind = top.text("kind")
    if file_kind is not None and file_kind not in KINDS:
        top.fail(f"must be one of {', '.join(KINDS)}, got {file_kind!r}", "kind")
    if kind is not None and file_kind is not None and kind != file_kind:
        top.fail(f"the config is a {file_kind} test, not a {kind} test", "kind")
    kind = file_kind or kind
    if kind is None:
        top.fail("is required (mushra or winrate)", "kind")
    if kind == "mushra":
        for key in WINRATE_ONLY:
            if top.has(key):
                top.fail("applies to winrate tests only", key)

    name = top.text("name", default=path.stem)
    if not ID_RE.match(name):
        top.fail(f"{name!r} is not a valid name ({ID_RULE})", "name")

    items = _items(path, base, raw.get("items"), kind)
    conditions = _conditions(path, base, raw.get("conditions"), kind)
    if any(isinstance(c.source, SynthesisSource) for c in conditions):
        for i, it in enumerate(items):
            if not it.text.strip():
                raise FlowTTSError(f"{path}: items[{i}].text: is required when a condition is synthesized")
            if it.language is None:
                raise FlowTTSError(
                    f"{path}: items[{i}].language: is required when a condition is synthesized"
                )

    training = top.whole("training_items", 1 if kind == "mushra" else 0, 0, len(items))
    pairs = _pairs(path, raw.get("pairs"), conditions) if kind == "winrate" else ()
    return ListeningConfig(
        path=path,
        kind=kind,
        name=name,
        title=top.text("title", DEFAULT_TITLES[kind]),
        instructions=top.text("instructions", DEFAULT_INSTRUCTIONS[kind]),
        question=top.text("question", DEFAULT_QUESTION) if kind == "winrate" else "",
        items=items,
        conditions=conditions,
        training_items=training,
        tie=top.flag("tie", True) if kind == "winrate" else False,
        pairs=pairs,
        sample_rate=_sample_rate(top),
        loudness_lufs=top.number("loudness_lufs", DEFAULT_LOUDNESS_LUFS, -50.0, -10.0),
        peak_dbfs=top.number("peak_dbfs", DEFAULT_PEAK_DBFS, -20.0, 0.0),
        raw=raw,
    )


def _sample_rate(top: _Reader) -> int:
    rate = top.whole("sample_rate", DEFAULT_SAMPLE_RATE, 1, 10**6)
    if rate not in SAMPLE_RATES:
        top.fail(f"must be one of {', '.join(map(str, SAMPLE_RATES))}, got {rate}", "sample_rate")
    return rate


def _items(path: Path, base: Path, raw: Any, kind: str) -> tuple[Item, ...]:
    if raw is None:
        raise FlowTTSError(f"{path}: no [[items]]: a test needs at least one item")
    if not isinstance(raw, list) or not raw:
        raise FlowTTSError(f"{path}: items: expected one or more [[items]] tables")
    out, seen = [], set()
    for i, table in enumerate(raw):
        r = _Reader(path, f"items[{i}]", table, ITEM_KEYS)
        item_id = r.ident("id")
        if item_id in seen:
            r.fail(f"duplicate item id {item_id!r}", "id")
        seen.add(item_id)
        language = r.text("language")
        if language is not None and not re.fullmatch(r"[a-z]{2,3}([-_][A-Za-z0-9]{2,8})?", language):
            r.fail(f"{language!r} is not a language code like 'en' or 'pt-BR'", "language")
        reference = r.path("reference", base, required=kind == "mushra")
        out.append(Item(item_id, r.text("text", ""), language, reference))
    return tuple(out)


def _conditions(path: Path, base: Path, raw: Any, kind: str) -> tuple[Condition, ...]:
    least = 1 if kind == "mushra" else 2
    if not isinstance(raw, list) or len(raw) < least:
        what = "one condition" if least == 1 else "two conditions (systems to compare)"
        raise FlowTTSError(f"{path}: a {kind} test needs at least {what} as [[conditions]] tables")
    out, seen = [], set()
    for i, table in enumerate(raw):
        where = f"conditions[{i}]"
        if not isinstance(table, dict):
            raise FlowTTSError(f"{path}: {where}: expected a table")
        if ("folder" in table) == ("model" in table):
            raise FlowTTSError(f"{path}: {where}: give either 'folder' (ready audio) or 'model' (synthesis)")
        if "folder" in table:
            r = _Reader(path, where, table, FOLDER_KEYS)
            source = FolderSource(r.path("folder", base, required=True))
        else:
            r = _Reader(path, where, table, SYNTH_KEYS)
            source = _synthesis(r, base)
        name = r.ident("name")
        if name in seen:
            r.fail(f"duplicate condition name {name!r}", "name")
        if kind == "mushra" and name in RESERVED_CONDITIONS:
            r.fail(f"{name!r} is reserved for the stimuli the MUSHRA builder adds", "name")
        seen.add(name)
        out.append(Condition(name, source))
    return tuple(out)


def _synthesis(r: _Reader, base: Path) -> SynthesisSource:
    voice, by_language = None, {}
    if r.has("voice"):
        v = r.table["voice"]
        if isinstance(v, str):
            voice = v
        elif (
            isinstance(v, dict) and v and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())
        ):
            by_language = dict(v)
        else:
            r.fail("expected a voice name or a table {language = voice name}", "voice")
    clip = r.path("voice_clip", base)
    if clip is not None and r.has("voice"):
        r.fail("give 'voice' or 'voice_clip', not both", "voice_clip")
    return SynthesisSource(
        model=r.path("model", base, required=True),
        voice=voice,
        voice_by_language=by_language,
        voice_clip=clip,
        steps=r.whole("steps", None, 1, 64),
        cfg=r.number("cfg", None, 0.0, 20.0),
        seed=r.whole("seed", 0, 0, 2**31 - 1),
    )


def _pairs(path: Path, raw: Any, conditions: tuple[Condition, ...]) -> tuple[Pair, ...]:
    names = [c.name for c in conditions]
    if raw is None:
        return tuple(Pair(a, b) for a, b in itertools.combinations(names, 2))
    if not isinstance(raw, list) or not raw:
        raise FlowTTSError(f'{path}: pairs: expected a list like [["ours", "baseline"]]')
    out, seen = [], set()
    for i, p in enumerate(raw):
        if not (isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)):
            raise FlowTTSError(f"{path}: pairs[{i}]: expected two condition names, got {p!r}")
        for x in p:
            if x not in names:
                raise FlowTTSError(f"{path}: pairs[{i}]: unknown condition {x!r} (known: {', '.join(names)})")
        if p[0] == p[1]:
            raise FlowTTSError(f"{path}: pairs[{i}]: a condition cannot be compared with itself")
        key = frozenset(p)
        if key in seen:
            raise FlowTTSError(f"{path}: pairs[{i}]: the pair {p[0]} / {p[1]} is listed twice")
        seen.add(key)
        out.append(Pair(p[0], p[1]))
    return tuple(out)
