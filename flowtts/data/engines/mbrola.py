"""MBROLA diphone voices: espeak-ng writes a ``.pho``, the ``mbrola`` binary turns it into audio.

Pipeline per utterance (two short processes, no files): ``espeak-ng --pho`` on our private espeak
data (``mbrola_tables.private_data()``: repaired translation tables, and a stand-in for the mbrola
process espeak would otherwise start and load a database into) → parse the ``.pho`` (phone,
milliseconds, pitch targets) → apply pitch and range → ``mbrola -e [-l Hz] <db> - -.wav`` with the
``.pho`` on stdin and the audio on stdout. Phone spans come straight from the ``.pho``, so they are
exact: MBROLA plays every phone for exactly its duration (unknown diphones become silence of the
same length).

Prosody mapping (``Prosody`` → controls):

* ``rate``: espeak ``-s`` = 175 wpm × rate (espeak's own duration rules, not a uniform stretch);
* ``word_gap``: espeak ``-g`` (10 ms units);
* ``pitch``: every pitch target of the ``.pho`` × 2^(semitones/12), exact;
* ``pitch_range``: log-F0 distance of every target from the utterance's mean log-F0 × range.

Pseudo-speakers: ``mbrola -l <Hz>`` synthesises for another output rate while keeping F0 and
durations, i.e. played at that rate the formants move by Hz / database rate (0.90: longer vocal
tract, 1.10: shorter). The header then says ``Hz``, and so does ``RenderResult.sample_rate``: the
audio lasts exactly the ``.pho`` time at that rate, so resampling to 24 kHz keeps pitch and length.

Missing diphones: with ``-e`` MBROLA prints ``Warning: X-Y unknown, replaced with _-_`` and speaks
silence. The generic repair renders once, inserts a 10 ms pause ``_ 10`` between every unknown pair
and renders again; whatever is still unknown goes to ``RenderResult.problems`` so the builder drops
the sentence.
"""

from __future__ import annotations

import math
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from flowtts.data.engines._cli import audio_problems, failed, nothing_to_say, timeout_for
from flowtts.data.engines.base import Engine, Prosody, RenderResult, VoiceSpec
from flowtts.data.engines.mbrola_tables import FIXES, database_path, database_rate, private_data
from flowtts.data.manifest import PhoneSpan

LICENSE = (
    "MBROLA database licence (non-free): synthesis with the MBROLA program only; "
    "no sale without the owner's permission"
)
BASE_RATE_WPM = 175
FORMANT_SCALES = (0.90, 1.10)  # pseudo-speakers: output rate / database rate
REPAIR_PAUSE_MS = 10
F0_LIMITS = (40.0, 600.0)
_UNKNOWN = re.compile(r"Warning: (\S+) unknown")


@dataclass(frozen=True)
class BaseVoice:
    """One MBROLA database of the corpus (research corpus-sources.md §2)."""

    db: str
    lang: str
    gender: str
    rate: int  # the database's sample rate


# nl1 and de8 are left out: their phone sets do not match espeak's tables (63% / 8% silence).
_F, _M = "female", "male"
BASE_VOICES: tuple[BaseVoice, ...] = tuple(
    BaseVoice(*v)
    for v in (
        ("us1", "en", _F, 16000),
        ("us2", "en", _M, 16000),
        ("us3", "en", _M, 16000),
        ("en1", "en", _M, 16000),
        ("fr1", "fr", _M, 16000),
        ("fr2", "fr", _F, 22050),
        ("fr3", "fr", _M, 16000),
        ("fr4", "fr", _F, 22050),
        ("fr5", "fr", _M, 16000),
        ("fr6", "fr", _M, 16000),
        ("fr7", "fr", _M, 16000),
        ("ca1", "fr", _M, 16000),
        ("ca2", "fr", _M, 22050),
        ("de1", "de", _F, 16000),
        ("de2", "de", _M, 16000),
        ("de3", "de", _F, 22050),
        ("de4", "de", _M, 16000),
        ("de5", "de", _F, 22050),
        ("de6", "de", _M, 22050),
        ("de7", "de", _F, 22050),
        ("es1", "es", _M, 16000),
        ("es2", "es", _M, 22050),
        ("es3", "es", _F, 16000),
        ("es4", "es", _M, 16000),
        ("mx1", "es", _M, 16000),
        ("mx2", "es", _M, 16000),
        ("vz1", "es", _M, 16000),
        ("it1", "it", _M, 16000),
        ("it2", "it", _F, 16000),
        ("it3", "it", _M, 16000),
        ("it4", "it", _F, 16000),
        ("pt1", "pt", _F, 22050),
        ("br1", "pt", _M, 16000),
        ("br2", "pt", _F, 22050),
        ("br3", "pt", _M, 22050),
        ("br4", "pt", _F, 16000),
        ("nl2", "nl", _M, 16000),
        ("nl3", "nl", _F, 16000),
        ("ar1", "ar", _M, 16000),
        ("ar2", "ar", _M, 22050),
        ("in1", "hi", _M, 22050),
        ("in2", "hi", _F, 22050),
    )
)


def mbrola_voices() -> list[VoiceSpec]:
    """The catalogue: every base voice plus one pseudo-speaker per ``FORMANT_SCALES`` entry, in the
    base voice's speaker group (a held-out speaker stays held out with its pseudo-speakers)."""
    out = []
    for b in BASE_VOICES:
        espeak_voice = f"mb-{b.db}fix" if b.db in FIXES else f"mb-{b.db}"
        params = {"db": b.db, "espeak_voice": espeak_voice, "native_rate": b.rate}
        common = {
            "engine": "mbrola",
            "lang": b.lang,
            "speaker_group": f"mbrola-{b.db}",
            "gender": b.gender,
            "license": LICENSE,
        }
        out.append(VoiceSpec(id=f"mbrola-{b.db}", kind="recorded", params=params, **common))
        for scale in FORMANT_SCALES:
            p = {**params, "formant_scale": scale, "voice_rate": round(b.rate * scale)}
            out.append(
                VoiceSpec(id=f"mbrola-{b.db}-l{round(scale * 100):03d}", kind="pseudo", params=p, **common)
            )
    return out


@dataclass(frozen=True)
class PhoLine:
    """One ``.pho`` line: MBROLA phone, duration (ms), pitch targets ((% of the phone, Hz), ...)."""

    phone: str
    ms: float
    pitch: tuple[tuple[float, float], ...] = ()

    def text(self) -> str:
        targets = "".join(f" {p:g} {f:.1f}" for p, f in self.pitch)
        return f"{self.phone}\t{self.ms:g}{targets}"


def parse_pho(text: str) -> list[PhoLine]:
    """The phones of a ``.pho``; comment (``;``), flush (``#``) and blank lines are skipped.

    Raises:
        ValueError: a line that is not ``phone ms [pos f0]...``; espeak-ng 1.51 now and then writes
            "Invalid phoneme code N" into the ``.pho`` (seen on Arabic), and such a render is dropped.
    """
    out = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith((";", "#")):
            continue
        try:
            nums = [float(x) for x in parts[1:]]
        except ValueError:
            nums = []
        if len(nums) % 2 != 1:
            raise ValueError(f"not a .pho line: {line.strip()[:80]!r}")
        out.append(PhoLine(parts[0], nums[0], tuple(zip(nums[1::2], nums[2::2], strict=True))))
    return out


def pho_text(lines: list[PhoLine]) -> str:
    return "".join(line.text() + "\n" for line in lines)


def shift_pitch(lines: list[PhoLine], semitones: float, pitch_range: float) -> list[PhoLine]:
    """Scales every pitch target by 2^(semitones/12) and its log distance from the utterance's mean
    log-F0 by ``pitch_range``; targets stay inside ``F0_LIMITS``."""
    logs = [math.log(f) for line in lines for _, f in line.pitch if f > 0]
    if not logs or (semitones == 0 and pitch_range == 1):
        return lines
    mean = sum(logs) / len(logs)
    shift = semitones / 12 * math.log(2)

    def f0(f: float) -> float:
        if f <= 0:  # no pitch target: leave it so
            return f
        g = math.exp(mean + pitch_range * (math.log(f) - mean) + shift)
        return min(max(g, F0_LIMITS[0]), F0_LIMITS[1])

    return [replace(line, pitch=tuple((p, f0(f)) for p, f in line.pitch)) for line in lines]


def unknown_diphones(stderr: str) -> list[str]:
    """``["X-Y", ...]`` from mbrola's ``Warning: X-Y unknown, replaced with _-_`` lines, in order."""
    return _UNKNOWN.findall(stderr)


def insert_pauses(lines: list[PhoLine], unknown: set[str], ms: float = REPAIR_PAUSE_MS) -> list[PhoLine]:
    """Puts a ``_ <ms>`` pause between every adjacent pair ``X-Y`` listed in ``unknown``."""
    out: list[PhoLine] = []
    for i, line in enumerate(lines):
        if (
            i
            and f"{lines[i - 1].phone}-{line.phone}" in unknown
            and "_" not in (lines[i - 1].phone, line.phone)
        ):
            out.append(PhoLine("_", ms))
        out.append(line)
    return out


def phone_spans(lines: list[PhoLine]) -> list[PhoneSpan]:
    """Contiguous spans in seconds; consecutive pauses ``_`` merge into one."""
    spans: list[PhoneSpan] = []
    t = 0.0
    for line in lines:
        if line.ms <= 0:
            continue
        if line.phone == "_" and spans and spans[-1].phone == "_":
            prev = spans.pop()
            spans.append(PhoneSpan("_", prev.start, round(prev.duration + line.ms / 1000, 5)))
        else:
            spans.append(PhoneSpan(line.phone, round(t, 5), round(line.ms / 1000, 5)))
        t += line.ms / 1000
    return spans


@dataclass(frozen=True)
class Synth:
    """One mbrola run: samples at ``rate`` and the diphones it did not know."""

    samples: np.ndarray
    rate: int
    unknown: list[str]
    error: str | None = None


@lru_cache(maxsize=64)
def _db_rate(db: str) -> int:
    return database_rate(database_path(db))


class MbrolaEngine(Engine):
    """MBROLA voices through ``espeak-ng --pho | mbrola``; see the module docstring.

    ``fix_tables=False`` uses espeak's shipped tables and ``repair=False`` skips the pause insertion
    (both only for measuring what the fixes change, see ``audit_voices``).
    """

    name = "mbrola"
    requires = ("espeak-ng", "mbrola")

    def __init__(self, fix_tables: bool = True, repair: bool = True) -> None:
        self.fix_tables = fix_tables
        self.repair = repair

    @classmethod
    def voices(cls) -> list[VoiceSpec]:
        return mbrola_voices()

    def available(self, voice: VoiceSpec) -> bool:
        if voice.engine != self.name or shutil.which("mbrola") is None:
            return False
        try:
            _db_rate(voice.params["db"])
            return private_data().has_voice(self._espeak_voice(voice))
        except Exception:  # missing database, espeak-ng or data: not available here
            return False

    def _espeak_voice(self, voice: VoiceSpec) -> str:
        name = voice.params["espeak_voice"]
        return name if self.fix_tables else name.removesuffix("fix")

    def render(self, text: str, voice: VoiceSpec, prosody: Prosody) -> RenderResult:
        db = voice.params["db"]
        rate = round(_db_rate(db) * voice.params.get("formant_scale", 1.0))
        if nothing_to_say(text):
            return failed("nothing to say (no letter or digit)", rate)
        pho = self.pho(text, voice, prosody)
        if isinstance(pho, str):
            return failed(pho, rate)
        lines = shift_pitch(pho, prosody.pitch, prosody.pitch_range)
        syn = self._mbrola(lines, db, rate, timeout_for(text))
        if self.repair and syn.unknown and syn.error is None:
            lines = insert_pauses(lines, set(syn.unknown))
            syn = self._mbrola(lines, db, rate, timeout_for(text))
        if syn.error is not None:
            return failed(syn.error, rate)
        problems = audio_problems(syn.samples)
        if syn.unknown:
            problems.append("missing diphones: " + ", ".join(sorted(set(syn.unknown))))
        return RenderResult(syn.samples, syn.rate, phones=phone_spans(lines), problems=problems)

    def pho(self, text: str, voice: VoiceSpec, prosody: Prosody) -> list[PhoLine] | str:
        """espeak-ng's ``.pho`` for ``text`` (rate and word gap applied), or why there is none."""
        data = private_data()
        speed = max(80, min(450, round(BASE_RATE_WPM * prosody.rate)))
        cmd = [
            "espeak-ng",
            f"--path={data.root}",
            "-q",
            "-v",
            f"mb/{self._espeak_voice(voice)}",
            "-s",
            str(speed),
            "-g",
            str(max(0, int(prosody.word_gap))),
            "--pho",
            "--stdin",
        ]
        try:
            p = subprocess.run(
                cmd,
                input=text.encode("utf-8"),
                capture_output=True,
                env=data.env,
                timeout=timeout_for(text),
                check=False,
            )
        except (subprocess.TimeoutExpired, OSError) as e:
            return f"espeak-ng failed: {type(e).__name__}"
        try:
            lines = parse_pho(p.stdout.decode("latin-1"))  # phone names are bytes to mbrola
        except ValueError as e:
            return f"espeak-ng wrote a broken .pho ({e})"
        if p.returncode != 0 or not lines:
            err = p.stderr.decode("utf-8", "replace").strip().splitlines()
            return f"espeak-ng wrote no .pho (exit {p.returncode}: {(err or ['no message'])[-1][:160]})"
        return lines

    def _mbrola(self, lines: list[PhoLine], db: str, rate: int, timeout: float) -> Synth:
        """Runs mbrola once; ``rate`` ≠ the database's rate asks for a formant shift (``-l``)."""
        cmd = [_mbrola_exe(), "-e"]
        if rate != _db_rate(db):
            cmd += ["-l", str(rate)]
        cmd += [str(database_path(db)), "-", "-.wav"]
        empty = np.zeros(0, np.float32)
        try:
            p = subprocess.run(
                cmd,
                input=pho_text(lines).encode("latin-1", "replace"),
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except (subprocess.TimeoutExpired, OSError) as e:
            return Synth(empty, rate, [], f"mbrola failed: {type(e).__name__}")
        out, err = p.stdout, p.stderr.decode("latin-1")
        if p.returncode != 0 or len(out) < 44 or out[:4] != b"RIFF":
            last = (err.strip().splitlines() or ["no output"])[-1][:160]
            return Synth(empty, rate, [], f"mbrola exited {p.returncode}: {last}")
        header_rate = int.from_bytes(out[24:28], "little")
        pcm = out[44 : 44 + (len(out) - 44) // 2 * 2]
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        return Synth(samples, header_rate, unknown_diphones(err))


@lru_cache(maxsize=1)
def _mbrola_exe() -> str:
    """The real mbrola, by absolute path (the stand-in in our espeak data never shadows it)."""
    return shutil.which("mbrola") or "mbrola"


@dataclass(frozen=True)
class AuditRow:
    """What rendering ``sentences`` real sentences in one voice gave (medians over sentences)."""

    voice: str
    sentences: int
    with_missing: int  # sentences that still had an unknown diphone (the builder drops them)
    failed: int  # renders with another problem
    silence_ratio: float
    seconds_per_char: float
    realtime: float  # seconds of audio per second of wall time, espeak + mbrola together
    realtime_cpu: float  # seconds of audio per CPU second (this process and its children)

    @property
    def missing_pct(self) -> float:
        return 100.0 * self.with_missing / max(1, self.sentences)


def audit_voices(
    sentences: dict[str, list[str]], voices: list[VoiceSpec] | None = None, engine: MbrolaEngine | None = None
) -> list[AuditRow]:
    """Renders every sentence of a voice's language in every available voice (default: the base
    voices) at neutral prosody. ``MbrolaEngine(fix_tables=False, repair=False)`` measures espeak's
    shipped tables, the default engine the fixed ones."""
    from flowtts.audio import silence_ratio

    engine = engine or MbrolaEngine()
    voices = voices if voices is not None else [v for v in mbrola_voices() if v.kind == "recorded"]
    rows = []
    for v in voices:
        texts = sentences.get(v.lang) or []
        if not texts or not engine.available(v):
            continue
        missing = bad = 0
        sil, spc, audio_s = [], [], 0.0
        start, cpu0 = time.perf_counter(), _cpu_seconds()
        for text in texts:
            res = engine.render(text, v, Prosody())
            missing += any("missing diphones" in p for p in res.problems)
            bad += any("missing diphones" not in p for p in res.problems)
            if len(res.samples):
                audio_s += len(res.samples) / res.sample_rate
                sil.append(silence_ratio(res.samples, res.sample_rate))
                spc.append(len(res.samples) / res.sample_rate / max(1, len(text)))
        wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu0
        rows.append(
            AuditRow(
                v.id,
                len(texts),
                missing,
                bad,
                round(statistics.median(sil or [1.0]), 3),
                round(statistics.median(spc or [0.0]), 4),
                round(audio_s / wall, 1),
                round(audio_s / max(cpu, 1e-6), 1),
            )
        )
    return rows


def _cpu_seconds() -> float:
    """CPU time of this process plus its finished children (espeak-ng and mbrola runs)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
