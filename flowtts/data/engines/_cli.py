"""Shared plumbing of the engines that drive a command-line synthesiser (pico, flite, rhvoice, festival).

What they all need: a private scratch folder per process (in RAM when /dev/shm exists, so a render
costs no disk I/O), running a tool with a time limit without ever raising, reading the WAV it wrote
at the rate its header states, and one check that turns empty or silent audio into a ``problems``
entry instead of a corpus row. ``CommandLineEngine`` holds what these engines share (install check,
scratch folder, ``close``), and ``run_to_result`` for those that run one process per utterance.
Also the ARPAbet → IPA table used by flite and Festival's English voices, so their phone labels
share the IPA alphabet of espeak's.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowtts.data.engines.base import Engine, RenderResult, VoiceSpec
from flowtts.data.manifest import PhoneSpan

#: peak below this (-40 dBFS) counts as silence; Pico writes dither peaking at -56 dBFS for no text,
#: while the quietest real voices still peak above -26 dBFS
SILENT_PEAK = 0.01


@dataclass
class ToolRun:
    """Outcome of one tool run; ``error`` is None when the tool exited 0 in time."""

    stdout: str
    stderr: str
    error: str | None


class ScratchDir:
    """A private folder for one engine instance in one process, removed by ``close()`` or at exit.

    Lives under /dev/shm when it is writable (renders are small and short-lived), else the system
    temp folder. A forked child gets its own folder, so workers never share file names; folders
    left by dead processes are removed when a new one is made.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._path: Path | None = None
        self._pid = -1
        self._counter = itertools.count()
        self._finalizer: weakref.finalize | None = None

    def path(self) -> Path:
        if self._path is None or self._pid != os.getpid():
            base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
            _remove_orphans(Path(base))
            self._pid = os.getpid()
            self._path = Path(tempfile.mkdtemp(prefix=f"flowtts-{self.prefix}-{self._pid}-", dir=base))
            self._finalizer = weakref.finalize(self, _remove_if_owner, self._path, self._pid)
        return self._path

    def file(self, suffix: str) -> Path:
        """A fresh file name inside the folder (not created)."""
        return self.path() / f"{next(self._counter)}{suffix}"

    def close(self) -> None:
        if self._finalizer is not None and self._pid == os.getpid():
            self._finalizer()
        self._path = None


def _remove_orphans(base: Path) -> None:
    """Removes scratch folders whose process is gone: pool workers often end through ``os._exit``,
    which skips finalizers. Names are ``flowtts-<engine>-<pid>-<random>``."""
    for d in base.glob("flowtts-*-*-*"):
        pid = d.name.split("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _remove_if_owner(path: Path, pid: int) -> None:
    """Removes ``path`` only in the process that made it (a forked child inherits the finalizer)."""
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def run_tool(cmd: list[str], timeout: float, stdin: bytes | None = None) -> ToolRun:
    """Runs ``cmd``; never raises for a failing, hanging or missing tool (``error`` says why)."""
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return ToolRun("", "", f"{Path(cmd[0]).name} timed out after {timeout:.0f} s")
    except OSError as e:
        return ToolRun("", "", f"{Path(cmd[0]).name} failed to start: {e}")
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != 0:
        last = (err.strip().splitlines() or ["no message"])[-1][:200]
        return ToolRun(out, err, f"{Path(cmd[0]).name} exited {p.returncode}: {last}")
    return ToolRun(out, err, None)


class UnreadableAudio(Exception):
    """The tool wrote no WAV, or one that cannot be read; the message says why."""


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """``(float32 mono samples [N], header rate)``; raises UnreadableAudio when missing / unreadable."""
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # [N, C]
    except (RuntimeError, OSError, sf.LibsndfileError) as e:
        raise UnreadableAudio(f"no readable audio written ({type(e).__name__}: {str(e)[:120]})") from e
    return np.ascontiguousarray(data.mean(axis=1), dtype=np.float32), int(sr)


def audio_problems(samples: np.ndarray) -> list[str]:
    """Reasons the audio is unusable on its own: empty, non-finite or (near) silent."""
    if len(samples) == 0:
        return ["empty audio"]
    if not np.isfinite(samples).all():
        return ["non-finite samples"]
    peak = float(np.abs(samples).max())
    if peak < SILENT_PEAK:
        return [f"near-silent audio (peak {20 * np.log10(peak + 1e-12):.0f} dBFS)"]
    return []


def nothing_to_say(text: str) -> bool:
    """True when ``text`` has no letter or digit, so no engine can speak it."""
    return not any(ch.isalnum() for ch in text)


def failed(reason: str, sample_rate: int) -> RenderResult:
    """A broken render: no audio, one problem."""
    return RenderResult(np.zeros(0, np.float32), sample_rate, problems=[reason])


def timeout_for(text: str) -> float:
    """A generous time limit for one utterance: 20 s plus 0.1 s per character."""
    return 20.0 + 0.1 * len(text)


class CommandLineEngine(Engine):
    """An engine that drives a command-line synthesiser: the binaries in ``requires`` must be
    installed, and the files it reads and writes live in a private ScratchDir named after the engine.
    """

    def __init__(self) -> None:
        self.check_installed()
        self._scratch = ScratchDir(self.name)

    @classmethod
    def recorded_voice(
        cls, key: str, lang: str, group: str, gender: str | None, license: str, params: dict
    ) -> VoiceSpec:
        """A voice of a real (recorded) speaker, with id ``<engine>-<key>``."""
        return VoiceSpec(
            id=f"{cls.name}-{key}",
            engine=cls.name,
            lang=lang,
            speaker_group=group,
            gender=gender,
            license=license,
            kind="recorded",
            params=params,
        )

    def run_to_result(
        self, cmd: list[str], out: Path, text: str, native_rate: int, text_file: Path | None = None
    ) -> RenderResult:
        """Runs ``cmd``, which writes a WAV to ``out``, and returns it as a render; never raises for a
        failing tool or missing audio (``failed`` at ``native_rate``). With ``text_file``, ``text`` is
        written there first for the tool to read. Both files are always removed afterwards."""
        try:
            if text_file is not None:
                text_file.write_text(text + "\n", encoding="utf-8")
            run = run_tool(cmd, timeout_for(text))
            if run.error:
                return failed(run.error, native_rate)
            samples, rate = read_wav(out)
        except UnreadableAudio as e:
            return failed(str(e), native_rate)
        finally:
            out.unlink(missing_ok=True)
            if text_file is not None:
                text_file.unlink(missing_ok=True)
        problems = audio_problems(samples)
        phones = None if problems else self.phones_from(run.stdout, len(samples) / rate)
        return RenderResult(samples, rate, phones=phones, problems=problems)

    def phones_from(self, stdout: str, duration: float) -> list[PhoneSpan] | None:
        """Phone spans from what the tool printed for a clean render of ``duration`` s; None here."""
        return None

    def close(self) -> None:
        self._scratch.close()


@dataclass(frozen=True)
class PhoneEnd:
    """A phone and the time (s) at which it ends, as flite ``-psdur`` and Festival segs print."""

    phone: str
    end: float


def spans_from_ends(ends: list[PhoneEnd], duration: float) -> list[PhoneSpan] | None:
    """Contiguous spans from end times, clipped to ``[0, duration]``; consecutive pauses merge."""
    spans: list[PhoneSpan] = []
    start = 0.0
    for pe in ends:
        end = min(max(pe.end, start), duration)
        if end <= start:
            continue
        if spans and pe.phone == "_" and spans[-1].phone == "_":
            prev = spans.pop()
            spans.append(PhoneSpan("_", prev.start, round(end - prev.start, 5)))
        else:
            spans.append(PhoneSpan(pe.phone, round(start, 5), round(end - start, 5)))
        start = end
    return spans or None


# CMU/radio ARPAbet (lower case, as flite and Festival print them) → IPA.
ARPABET_IPA: dict[str, str] = {
    "aa": "ɑ",
    "ae": "æ",
    "ah": "ʌ",
    "ao": "ɔ",
    "aw": "aʊ",
    "ax": "ə",
    "axr": "ɚ",
    "ay": "aɪ",
    "eh": "ɛ",
    "er": "ɝ",
    "ey": "eɪ",
    "ih": "ɪ",
    "ix": "ɨ",
    "iy": "i",
    "ow": "oʊ",
    "oy": "ɔɪ",
    "uh": "ʊ",
    "uw": "u",
    "b": "b",
    "ch": "tʃ",
    "d": "d",
    "dh": "ð",
    "dx": "ɾ",
    "f": "f",
    "g": "ɡ",
    "hh": "h",
    "jh": "dʒ",
    "k": "k",
    "l": "l",
    "el": "l̩",
    "m": "m",
    "em": "m̩",
    "n": "n",
    "en": "n̩",
    "ng": "ŋ",
    "nx": "ɾ̃",
    "p": "p",
    "r": "ɹ",
    "s": "s",
    "sh": "ʃ",
    "t": "t",
    "th": "θ",
    "v": "v",
    "w": "w",
    "y": "j",
    "z": "z",
    "zh": "ʒ",
}
PAUSES = ("pau", "h#", "sil", "#", "_", "brth", "ssil")


def arpabet_to_ipa(phone: str) -> str:
    """One ARPAbet phone to IPA; pauses become ``_``; unknown names pass through unchanged."""
    p = phone.lower().rstrip("012")
    if p in PAUSES:
        return "_"
    return ARPABET_IPA.get(p, phone)
