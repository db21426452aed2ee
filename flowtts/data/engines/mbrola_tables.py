"""espeak-ng's MBROLA translation tables, repaired, in a private espeak data folder.

What: espeak-ng turns its phonemes into MBROLA phone names through a per-voice table
(``espeak-ng-data/mbrola_ph/<name>_phtrans``). Several tables shipped with espeak-ng 1.51 are broken
(research corpus-sources.md §2): Spanish maps the trill ``R2`` to nothing, so every "rr" is deleted,
and leaves ``e/``/``o/`` unmapped, which MBROLA replaces by silence; the Italian, Hindi, Arabic, us3
and pt1 tables have similar holes, and some tables map a phoneme to a unit the database only has in
a few contexts (Brazilian coda z, Dutch g in nl3). Each override file says what it fixes and why.
This module builds, once per machine, a private copy of espeak-ng-data in which

* every table in ``FIXES`` is recompiled with our override lines (``mbrola_tables/<name>.txt``,
  one rule per line, ``<control> <espeak phoneme> <next|NULL|VWL> <percent> <mbrola> [<mbrola2>]``)
  placed in front of the shipped rules: espeak uses the first rule that matches, so an override
  replaces the shipped mapping of that phoneme;
* voice files ``voices/mb/mb-<db>fix`` point at the fixed tables;
* ``mbrola/<db>`` holds the database's 44-byte WAV header (as a printf format) and ``bin/mbrola`` a
  shell stand-in, so that espeak-ng, which starts an ``mbrola`` process whenever it loads an MBROLA
  voice even when it only writes a ``.pho``, starts that small script instead of loading a diphone
  database (measured per espeak call: us1 26 → 12 ms, de6 107 → 17 ms). Every table's volume
  word is set to 16/16, the wrapper's default, so espeak starts it once per call, not twice. The
  ``.pho`` is byte-identical to the one written with the real mbrola (tested). Like the real
  mbrola, the stand-in outlives espeak-ng for an instant and is reaped by the init process.

Why decompile instead of shipping whole tables: the shipped binary table (24-byte records) is the one
that matches the installed espeak-ng's phoneme set, so only our own override lines live in the repo
and the rest always follows the installed version.

Concurrency: the folder name hashes everything it depends on; it is built under a temporary name and
renamed into place, so when several workers start at once one rename wins and the others discard
their copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flowtts.cache import cache_home
from flowtts.errors import MissingSystemVoiceError

MBROLA_DIR = Path("/usr/share/mbrola")
OVERRIDES_DIR = Path(__file__).with_name("mbrola_tables")
BUILD_VERSION = 2  # bump when the layout of the private folder changes
NEUTRAL_VOLUME = 16  # a table's volume word in 1/16: only espeak's own mbrola playback uses it
_NULL, _VWL = 0, 2  # special ``next_phoneme`` values of a compiled rule

#: database → the fix of its table: (shipped table it starts from, override file)
FIXES: dict[str, tuple[str, str]] = {
    **{db: ("es", "es.txt") for db in ("es1", "es2")},
    "mx1": ("mx1", "mx1.txt"),
    "mx2": ("mx2", "mx2.txt"),
    "vz1": ("vz", "vz.txt"),
    "es3": ("es3", "es3.txt"),
    "es4": ("es4", "es4.txt"),
    "it1": ("it1", "it1.txt"),
    "it2": ("it1", "it2.txt"),
    "it3": ("it3", "it3.txt"),
    "it4": ("it3", "it3.txt"),
    "pt1": ("pt1", "pt1.txt"),
    "us3": ("us3", "us3.txt"),
    "in1": ("in", "in.txt"),
    "in2": ("in", "in.txt"),
    "ar1": ("ar1", "ar1.txt"),
    "ar2": ("ar2", "ar2.txt"),
    "us1": ("us", "us.txt"),
    "us2": ("us", "us.txt"),
    **{db: ("ptbr", "br.txt") for db in ("br1", "br2", "br3")},
    "br4": ("ptbr4", "br4.txt"),
    "nl3": ("nl", "nl3.txt"),
}

# The stand-in for mbrola that espeak-ng starts: answers with the database's WAV header and then
# reads stdin until espeak exits, all with shell builtins. espeak's wrapper decides that mbrola is
# done when the process sleeps with nothing written, so the stand-in must never sleep (e.g. wait
# for a child) before the header is out, and must keep stdout open (a closed pipe makes espeak spin).
STUB = """#!/bin/sh
# flowtts: stands in for mbrola while espeak-ng only writes .pho (args: -e -v VOL DATABASE - -.wav)
trap '' USR1
IFS= read -r hdr < "$4"
printf "$hdr"
while read -r _; do :; done
"""


@dataclass(frozen=True)
class Rule:
    """One line of a translation table: espeak ``phoneme`` → MBROLA ``mbr_name`` [+ ``mbr_name2``].

    ``control`` bits (espeak's synth_mbrola.c): 1 skip the next phoneme, 2 match the previous
    phoneme instead of the next, 4 word start only, 8 not across a word boundary, 0x10 prefix,
    0x20 stressed syllables only, 0x40 word end only. ``percent`` is the share of the first part.
    """

    control: int
    phoneme: str
    next_phoneme: str  # a phoneme, "NULL" (any) or "VWL" (any vowel)
    percent: int
    mbr_name: str  # "NULL" deletes the phoneme
    mbr_name2: str = ""

    def to_line(self) -> str:
        return " ".join(
            str(x)
            for x in (
                self.control,
                self.phoneme,
                self.next_phoneme,
                self.percent,
                self.mbr_name,
                self.mbr_name2,
            )
            if x != ""
        )

    @staticmethod
    def parse(line: str) -> Rule | None:
        """A rule from a text line (``//`` starts a comment); None for blank and comment lines."""
        parts = line.split("//", 1)[0].split()
        if len(parts) < 5:
            return None
        return Rule(
            int(parts[0]), parts[1], parts[2], int(parts[3]), parts[4], parts[5] if len(parts) > 5 else ""
        )


@dataclass(frozen=True)
class Table:
    """A whole translation table: the volume word (1/16 units) and the rules, first match wins."""

    volume: int
    rules: tuple[Rule, ...]

    def source(self, overrides: list[Rule] = ()) -> str:
        """The text form ``espeak-ng --compile-mbrola`` reads, with ``overrides`` first."""
        lines = [f"volume {self.volume}"] + [r.to_line() for r in [*overrides, *self.rules]]
        return "\n".join(lines) + "\n"


def _word(value: int) -> str:
    """A packed phoneme name (up to 4 bytes, little-endian) back to text."""
    return value.to_bytes(4, "little").rstrip(b"\0").decode("latin-1")


def decompile(data: bytes) -> Table:
    """The rules of a compiled ``*_phtrans`` file: an int32 volume, then int32 records
    (name, next_phoneme, mbr_name, mbr_name2, percent, control) up to one whose name is 0."""
    (volume,) = struct.unpack_from("<i", data, 0)
    rules = []
    for off in range(4, len(data) - 23, 24):
        name, nxt, mbr1, mbr2, percent, control = struct.unpack_from("<iIiiii", data, off)
        if name == 0:
            break
        nxt_s = "NULL" if nxt == _NULL else "VWL" if nxt == _VWL else _word(nxt)
        rules.append(
            Rule(
                control,
                _word(name),
                nxt_s,
                percent,
                _word(mbr1) if mbr1 else "NULL",
                _word(mbr2) if mbr2 else "",
            )
        )
    return Table(volume, tuple(rules))


def read_overrides(name: str) -> list[Rule]:
    """The override rules of ``mbrola_tables/<name>``."""
    text = (OVERRIDES_DIR / name).read_text(encoding="utf-8")
    return [r for r in map(Rule.parse, text.splitlines()) if r is not None]


def database_path(db: str) -> Path:
    return MBROLA_DIR / db / db


def database_rate(path: Path) -> int:
    """Sample rate of an MBROLA database, from its header ("MBROLA", version, counts, Freq)."""
    with open(path, "rb") as f:
        head = f.read(32)
    if head[:6] != b"MBROLA":
        raise ValueError(f"{path} is not an MBROLA database")
    (old_size_mrk,) = struct.unpack_from("<H", head, 13)
    (rate,) = struct.unpack_from("<h", head, 23 if old_size_mrk == 0 else 19)
    return int(rate)


def wav_header_format(rate: int) -> str:
    """A 16-bit mono WAV header for ``rate`` as a printf format (every byte an octal escape)."""
    hdr = (
        b"RIFF"
        + struct.pack("<I", 36)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", 0)
    )
    return "".join(f"\\{b:03o}" for b in hdr)


@lru_cache(maxsize=1)
def espeak_version() -> tuple[str, Path]:
    """``(version line, system espeak-ng-data folder)`` of the espeak-ng on PATH."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise MissingSystemVoiceError("espeak-ng is not installed (run scripts/install-system-deps.sh)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    if "Data at:" not in out:
        raise MissingSystemVoiceError(f"cannot locate espeak-ng-data from {out!r}")
    return out, Path(out.split("Data at:")[1].strip())


def cache_root() -> Path:
    """``$FLOWTTS_CACHE/espeak-mbrola``, or ``~/.cache/flowtts/espeak-mbrola``."""
    return cache_home() / "espeak-mbrola"


def installed_databases() -> dict[str, int]:
    """Installed MBROLA databases and their sample rates."""
    out = {}
    if MBROLA_DIR.is_dir():
        for d in sorted(MBROLA_DIR.iterdir()):
            try:
                out[d.name] = database_rate(d / d.name)
            except (OSError, ValueError):
                continue
    return out


@dataclass(frozen=True)
class PrivateData:
    """The private espeak data: run espeak-ng with ``--path=<root>`` and ``env`` (PATH → stub)."""

    root: Path
    fixed: frozenset[str]  # databases whose fixed voice ``mb-<db>fix`` compiled

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}

    def has_voice(self, name: str) -> bool:
        return (self.root / "espeak-ng-data" / "voices" / "mb" / name).is_file()


def _digest(version: str, system: Path, dbs: dict[str, int]) -> str:
    overrides = {p.name: p.read_text(encoding="utf-8") for p in sorted(OVERRIDES_DIR.glob("*.txt"))}
    key = repr(
        (
            BUILD_VERSION,
            version,
            str(system),
            sorted(dbs.items()),
            sorted(FIXES.items()),
            sorted(overrides.items()),
            STUB,
        )
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def private_data() -> PrivateData:
    """Builds the private folder once per content (see the module docstring) and returns it."""
    version, system = espeak_version()
    dbs = installed_databases()
    final = cache_root() / f"data-{_digest(version, system, dbs)}"
    if not (final / "ok").is_file():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".build-{final.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            _build(tmp, system, dbs)
            os.rename(tmp, final)
        except OSError:
            if not (final / "ok").is_file():  # a real failure, not a lost race
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    fixed = (final / "ok").read_text(encoding="utf-8").split()
    return PrivateData(final, frozenset(fixed))


def _build(root: Path, system: Path, dbs: dict[str, int]) -> None:
    """Fills ``root``: data copy, fixed tables and voices, fake databases, the stub; ``ok`` last."""
    data = root / "espeak-ng-data"
    shutil.copytree(system, data, symlinks=True)
    (data / "mbrola").mkdir(exist_ok=True)
    for db, rate in dbs.items():
        (data / "mbrola" / db).write_text(wav_header_format(rate) + "\n", encoding="ascii")
    (root / "bin").mkdir()
    stub = root / "bin" / "mbrola"
    stub.write_text(STUB, encoding="ascii")
    stub.chmod(0o755)
    fixed = [db for db in sorted(FIXES) if _fix_voice(root, db)]
    for table in (data / "mbrola_ph").iterdir():  # volume 16/16 = the wrapper's default: espeak then
        with open(table, "r+b") as f:  # starts the stand-in once, not twice, per voice load
            f.write(struct.pack("<i", NEUTRAL_VOLUME))
    (root / "ok").write_text(" ".join(fixed) + "\n", encoding="utf-8")


def _fix_voice(root: Path, db: str) -> bool:
    """Compiles ``<db>fix_phtrans`` and writes voice ``mb-<db>fix``; False when espeak has no such
    voice or table, or the compiler fails (the voice then stays unavailable)."""
    data = root / "espeak-ng-data"
    base, override_file = FIXES[db]
    voice = data / "voices" / "mb" / f"mb-{db}"
    shipped = data / "mbrola_ph" / f"{base}_phtrans"
    if not voice.is_file() or not shipped.is_file():
        return False
    src = root / "src" / f"{db}fix"
    src.parent.mkdir(exist_ok=True)
    table = decompile(shipped.read_bytes())
    src.write_text(table.source(read_overrides(override_file)), encoding="latin-1")
    p = subprocess.run(
        ["espeak-ng", f"--path={root}", f"--compile-mbrola={src}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if p.returncode != 0 or not (data / "mbrola_ph" / f"{db}fix_phtrans").is_file():
        return False
    lines = []
    for line in voice.read_text(encoding="latin-1").splitlines():
        parts = line.split()
        if parts and parts[0] == "mbrola":  # "mbrola <db> <table>_phtrans [rate]"
            parts[2] = f"{db}fix_phtrans"
            line = " ".join(parts)
        lines.append(line)
    (voice.parent / f"mb-{db}fix").write_text("\n".join(lines) + "\n", encoding="latin-1")
    return True
