"""Festival: en kal / ked (diphone, 16 kHz), en slt (HTS, 32 kHz), it lp / pc, hi NSK (diphone, 16 kHz).

Why a persistent process instead of ``text2wave`` per utterance: Festival takes ~0.5 s to start
and load a voice, while a diphone utterance then synthesises in ~30 ms. Each engine instance keeps
a ``festival --pipe`` per voice (at most MAX_PROCESSES, least recently used closed first; one per
voice because voices leak settings: after an Italian voice the Hindi voice's F0 rose from 130 to
178 Hz), under ``stdbuf -oL`` so replies are not stuck in a pipe buffer. It sends one block of
Scheme per utterance and waits for a marker line; on a time-out or a dead process the process is
restarted on the next render. Errors Festival prints (``SIOD ERROR``, LTS failures) become
``problems``; a stale utterance can never be saved because ``ft_utt`` is cleared first.

Prosody, as measured here: diphone voices: Duration_Stretch = (the voice's own stretch) / rate;
pitch and range act on the F0 targets just before waveform synthesis (``after_analysis_hooks``):
log f0 ← log 2^(st/12) + m + range·(log f0 − m), m the mean log F0 of the utterance's targets
(+3 st gave ×1.18 on kal, lp and pc; range 1.4 left the median F0 unchanged). HTS (slt):
Festival's Duration_Stretch does not reach hts_engine, its ``-r`` speed does (1.5 → 0.67× the
duration); its F0 is the model's own, so pitch and range are ignored. Word
gap is ignored. Phone end times come from ``utt.save.segs`` (ARPAbet → IPA for English; Italian and
Hindi phone names are kept, pauses become ``_``).

Text encoding: the English and Italian voices read Latin-1 (UTF-8 Italian gave empty audio in
research §3), so their text is sent as Latin-1 and a text outside Latin-1 is a problem; Hindi is
sent as UTF-8.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from flowtts.data.engines._cli import (
    CommandLineEngine,
    PhoneEnd,
    UnreadableAudio,
    arpabet_to_ipa,
    audio_problems,
    failed,
    nothing_to_say,
    read_wav,
    spans_from_ends,
    timeout_for,
)
from flowtts.data.engines.base import Prosody, RenderResult, VoiceSpec
from flowtts.data.manifest import PhoneSpan

VOICE_ROOT = "/usr/share/festival/voices"
MARKER = "FT-DONE"
#: festival processes kept per engine instance (one per voice: voices leak settings into each other)
MAX_PROCESSES = 3
_EST = "free, BSD-style (CMU / University of Edinburgh; Festival voice licence)"
_ITA = "GPL-2.0-or-later (Italian FESTIVAL, ISTC-CNR)"


@dataclass(frozen=True)
class FestivalVoice:
    """One Festival voice as the corpus sees it."""

    voice: str  # Festival's name: (voice_<voice>) selects it
    lang: str
    group: str
    gender: str
    license: str
    rate: int  # native sample rate
    hts: bool = False  # HTS voices take rate through hts_engine's "-r", and ignore F0 targets


VOICES: dict[str, FestivalVoice] = {
    "kal": FestivalVoice("kal_diphone", "en", "kal", "male", _EST, 16000),
    "ked": FestivalVoice("ked_diphone", "en", "festival-ked", "male", _EST, 16000),
    "slt": FestivalVoice(
        "cmu_us_slt_arctic_hts",
        "en",
        "arctic-slt",
        "female",
        "EST-2003/BSD-3-clause (festvox-us-slt-hts; CMU ARCTIC)",
        32000,
        hts=True,
    ),
    "lp": FestivalVoice("lp_diphone", "it", "festival-it-lp", "female", _ITA, 16000),
    "pc": FestivalVoice("pc_diphone", "it", "festival-it-pc", "male", _ITA, 16000),
    "nsk": FestivalVoice(
        "hindi_NSK_diphone", "hi", "festival-hi-nsk", "male", "GPL-2.0-or-later (festvox-hi-nsk)", 16000
    ),
}
# Defined once per process: F0 targets (those > 0; Festival also holds 0-valued ones) are scaled by
# ft_f0, and their spread in log-F0 around the utterance's geometric mean by ft_range.
_PRELUDE = """
(define (ft_scale_f0 utt)
  (let ((xs (utt.relation.items utt 'Target)) (sum 0) (n 0) (m 0) (f 0))
    (mapcar (lambda (x) (set! f (item.feat x "f0"))
              (if (> f 0) (begin (set! sum (+ sum (log f))) (set! n (+ n 1))))) xs)
    (if (> n 0) (set! m (/ sum n)))
    (mapcar (lambda (x) (set! f (item.feat x "f0"))
              (if (> f 0) (item.set_feat x "f0" (* ft_f0 (exp (+ m (* ft_range (- (log f) m)))))))) xs)
    utt))
(set! ft_f0 1.0)
(set! ft_range 1.0)
(set! ft_stretch 1.0)
(set! after_analysis_hooks (list ft_scale_f0))
"""
_AFTER_VOICE = "(set! ft_stretch (Parameter.get 'Duration_Stretch))"


def scheme_string(text: str) -> str:
    """``text`` as a Scheme string literal (one line; backslash and quote escaped)."""
    flat = " ".join(text.split())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_segs(text: str, lang: str) -> list[PhoneEnd]:
    """``utt.save.segs`` output (a ``#`` line, then ``end 100 name`` lines) → phones with end times."""
    ends = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            try:
                end = float(parts[0])
            except ValueError:
                continue
            ipa = arpabet_to_ipa(parts[2])
            ends.append(PhoneEnd(ipa if lang == "en" or ipa == "_" else parts[2], end))
    return ends


@dataclass
class Reply:
    """What Festival printed for one request; ``error`` is set on a time-out or a dead process."""

    lines: list[str]
    error: str | None = None


class _Festival:
    """One ``festival --pipe`` child; ``ask`` sends Scheme and returns what it printed."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "festival", "--pipe"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._finalizer = weakref.finalize(self, _stop, self.proc)
        self._buf = b""

    def ask(self, scheme: bytes, timeout: float) -> Reply:
        """Sends ``scheme`` followed by a marker and collects the lines printed before the marker."""
        try:
            self.proc.stdin.write(scheme + f'\n(format t "{MARKER}\\n")\n'.encode())
            self.proc.stdin.flush()
        except OSError as e:
            return Reply([], f"festival is not running ({e})")
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace").strip()
                if text == MARKER:
                    return Reply(lines)
                lines.append(text)
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return Reply(lines, f"festival timed out after {timeout:.0f} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                return Reply(lines, "festival exited in the middle of a render")
            self._buf += chunk

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        self._finalizer()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


class FestivalEngine(CommandLineEngine):
    """Festival voices through one persistent ``festival --pipe`` per engine instance."""

    name = "festival"
    requires = ("festival", "stdbuf")

    def __init__(self) -> None:
        super().__init__()
        self._procs: OrderedDict[str, _Festival] = OrderedDict()

    @classmethod
    def voices(cls) -> list[VoiceSpec]:
        return [
            cls.recorded_voice(key, v.lang, v.group, v.gender, v.license, {"voice": v.voice, "hts": v.hts})
            for key, v in VOICES.items()
        ]

    def available(self, voice: VoiceSpec) -> bool:
        name = voice.params.get("voice", "")
        return shutil.which("festival") is not None and any(Path(VOICE_ROOT).glob(f"*/{name}/festvox"))

    def _process(self, name: str) -> _Festival | str:
        """The process speaking voice ``name``: started on first use, at most MAX_PROCESSES kept.
        A string says why the voice could not be loaded (Festival would speak in its default voice)."""
        proc = self._procs.pop(name, None)
        if proc is None or not proc.alive():
            if proc is not None:
                proc.close()
            proc = _Festival()
            reply = proc.ask(f"{_PRELUDE}\n(voice_{name})\n{_AFTER_VOICE}".encode(), 60)
            errors = [line for line in reply.lines if "ERROR" in line]
            if reply.error or errors:
                proc.close()
                return f"festival cannot load voice {name}: {reply.error or errors[0]}"
        self._procs[name] = proc  # most recently used last
        while len(self._procs) > MAX_PROCESSES:
            self._procs.pop(next(iter(self._procs))).close()
        return proc

    @staticmethod
    def _script(text: str, voice: VoiceSpec, prosody: Prosody, wav: Path, segs: Path) -> str:
        """The Scheme for one utterance in a process that already speaks ``voice``."""
        rate = max(prosody.rate, 0.05)
        lines = [
            f"(Parameter.set 'Duration_Stretch (* ft_stretch {1 / rate:.4f}))",
            f"(set! ft_f0 {2 ** (prosody.pitch / 12):.4f}) (set! ft_range {prosody.pitch_range:.4f})",
        ]
        if voice.params.get("hts"):
            lines.append(
                f"(set! hts_engine_params (append {voice.params['voice']}::hts_engine_params "
                f'(list (list "-r" {rate:.4f}))))'
            )
        lines.append(f"(set! ft_utt nil) (set! ft_utt (utt.synth (Utterance Text {scheme_string(text)})))")
        lines.append(f'(utt.save.wave ft_utt "{wav}" \'riff) (utt.save.segs ft_utt "{segs}")')
        return "\n".join(lines)

    def render(self, text: str, voice: VoiceSpec, prosody: Prosody) -> RenderResult:
        known = VOICES.get(voice.id.removeprefix("festival-"))
        rate = known.rate if known else 16000
        if nothing_to_say(text):
            return failed("nothing to say (no letter or digit)", rate)
        encoding = "utf-8" if voice.lang == "hi" else "latin-1"
        try:
            text.encode(encoding)
        except UnicodeEncodeError as e:
            return failed(f"text not representable in {encoding}: {text[e.start : e.end]!r}", rate)
        wav, segs = self._scratch.file(".wav"), self._scratch.file(".segs")
        try:
            proc = self._process(voice.params["voice"])
            if isinstance(proc, str):
                return failed(proc, rate)
            script = self._script(text, voice, prosody, wav, segs)
            reply = proc.ask(script.encode(encoding), timeout_for(text))
            if reply.error:
                proc.close()  # restarted on the next render
                return failed(reply.error, rate)
            result = self._collect(wav, segs, voice.lang, reply.lines, rate)
        finally:
            wav.unlink(missing_ok=True)
            segs.unlink(missing_ok=True)
        return result

    def _collect(self, wav: Path, segs: Path, lang: str, lines: list[str], rate: int) -> RenderResult:
        """The render from the files Festival wrote; what it printed explains a failure."""
        errors = [line for line in lines if "ERROR" in line or "no rule matches" in line]
        try:
            samples, sr = read_wav(wav)
        except UnreadableAudio as e:
            said = [line for line in lines if line and not line.startswith("closing a file")]
            return failed("; ".join(said[:2]) or str(e), rate)
        problems = errors[:2] + audio_problems(samples)
        phones: list[PhoneSpan] | None = None
        if not problems and segs.is_file():
            phones = spans_from_ends(parse_segs(segs.read_text("latin-1"), lang), len(samples) / sr)
        return RenderResult(samples, sr, phones=phones, problems=problems)

    def close(self) -> None:
        while self._procs:
            self._procs.popitem()[1].close()
        super().close()
