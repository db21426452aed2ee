"""espeak-ng in-process through ctypes: formant pseudo-speakers, exact phone timings, IPA.

Why in-process: a process per utterance costs ~25 ms of start-up while synthesis itself runs at
>1,000× real time (research §1, §7). The library runs in AUDIO_OUTPUT_SYNCHRONOUS mode; a callback
collects the samples and the phoneme events, whose ``sample`` field is the exact start of each
phone, so every render comes with frame-exact phone labels.

Pseudo-speakers: all espeak base voices are one male formant voice. ``make_variants()`` derives
``N_VARIANTS`` deterministic voice variants (F0 level and range, per-formant frequency / strength /
bandwidth scales 0.90–1.22, flutter, roughness, breath, spectral tone, stress timing) from a fixed
seed. The variants are written once into a private espeak-ng-data folder under the cache (the system data
symlinked, ``voices/`` replaced by our variants only, which keeps espeak far below its limit of
~350 voice files) and the library is initialised on that folder. A variant is one speaker group in
every language: ``espeak-en-v07`` and ``espeak-fr-v07`` are the same pseudo-speaker.

Gender rule: the geometric mean of a variant's pitch base and top ≥ 150 Hz → "female", ≤ 125 Hz →
"male", in between → None (an ambiguous voice is not labelled). Measured median F0 of the rendered
variants was 3–14% above that mean (86 Hz → 91, 234 Hz → 266).

The library has one global state, so every call into it holds a per-process lock; it is created in
the process that first renders or phonemizes (workers), never at import.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import math
import os
import pickle
import random
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowtts.cache import cache_home
from flowtts.data.engines._cli import audio_problems, failed, nothing_to_say
from flowtts.data.engines.base import Engine, Prosody, RenderResult, VoiceSpec
from flowtts.data.manifest import PhoneSpan
from flowtts.errors import MissingSystemVoiceError

SAMPLE_RATE = 22_050
N_VARIANTS = 24
VARIANT_SEED = 20_240_611
LICENSE = "GPL-3.0-or-later (espeak-ng, espeak-ng-data)"
#: base espeak voice per corpus language (the library accepts these names; "en-gb" / "fr-fr" it does not).
#: pt → pt-br: most of the Portuguese text is Brazilian (research §6).
LANG_VOICES = {
    "en": "en-us",
    "fr": "fr",
    "de": "de",
    "es": "es",
    "it": "it",
    "pt": "pt-br",
    "nl": "nl",
    "ar": "ar",
    "hi": "hi",
}
DATA_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/espeak-ng-data",
    "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
    "/usr/lib/espeak-ng-data",
    "/usr/share/espeak-ng-data",
    "/usr/local/share/espeak-ng-data",
)
BASE_RATE_WPM = 175
# espeakPITCH value → F0 shift in semitones against 50, measured with range 0 (monotone) on en-us.
PITCH_TABLE_P = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
PITCH_TABLE_ST = (-6.76, -5.53, -3.71, -1.98, 0.0, 1.85, 3.92, 5.97, 7.96, 9.1)

# speak_lib.h constants
_SYNCHRONOUS, _POS_CHARACTER, _CHARS_UTF8 = 2, 1, 1
_INIT_PHONEME_EVENTS, _INIT_PHONEME_IPA, _INIT_DONT_EXIT = 0x1, 0x2, 0x8000
_EV_LIST_TERMINATED, _EV_PHONEME = 0, 7
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7
#: espeak amplitude (0–200, default 100). At 100 a few variants clipped (≤ 0.003% of samples); at 80 none
#: did in 240 renders (24 variants × en/fr × 5 sentences, +3 st, range 1.4)
VOLUME = 80
_PHONEMES_IPA = 0x02


@dataclass(frozen=True)
class Variant:
    """One pseudo-speaker: the settings of one espeak voice-variant file (``voices/!v/<name>``)."""

    name: str
    pitch_base: int  # Hz
    pitch_top: int  # Hz
    formants: tuple[tuple[int, int, int], ...]  # formants 0..8: (frequency %, strength %, width %)
    flutter: int
    roughness: int
    breath: int  # 0 = no breath noise
    breathw: int  # base bandwidth of the breath noise (Hz)
    tone: tuple[int, ...]  # frequency / amplitude pairs of the voiced spectral shaping
    stress_add: tuple[int, ...]  # 8 additions to the stress-dependent vowel lengths

    @property
    def f0(self) -> float:
        """Typical F0 (Hz): the geometric mean of pitch base and top."""
        return math.sqrt(self.pitch_base * self.pitch_top)

    @property
    def gender(self) -> str | None:
        return "female" if self.f0 >= 150 else "male" if self.f0 <= 125 else None

    def file_text(self) -> str:
        lines = [
            "language variant",
            f"name {self.name}",
            f"gender {self.gender or 'unknown'}",
            f"pitch {self.pitch_base} {self.pitch_top}",
        ]
        lines += [f"formant {i} {f} {h} {w}" for i, (f, h, w) in enumerate(self.formants)]
        lines += [
            f"flutter {self.flutter}",
            f"roughness {self.roughness}",
            "tone " + " ".join(map(str, self.tone)),
            "stressAdd " + " ".join(map(str, self.stress_add)),
        ]
        if self.breath:
            b = self.breath
            lines.append(f"breath 0 {b} {b + 1} {b + 1} {b + 1} {b + 1} {b + 1} {b}")
            widths = (int(self.breathw * k) for k in (1, 1, 1.33, 1.33, 2.67, 2.67, 2.67, 2))
            lines.append("breathw " + " ".join(map(str, widths)))
        return "\n".join(lines) + "\n"


def make_variants(n: int = N_VARIANTS, seed: int = VARIANT_SEED) -> list[Variant]:
    """``n`` deterministic variants. F0 is stratified over 85–235 Hz (log scale) so low, middle and
    high voices are all present; the vocal-tract (formant) scale follows F0 loosely, as in people.
    Only ``random.Random.random`` is used: its sequence is guaranteed stable across Python versions."""
    u = random.Random(seed).random
    strata = list(range(n))
    for i in range(n - 1, 0, -1):  # Fisher-Yates with random() only
        j = int(u() * (i + 1))
        strata[i], strata[j] = strata[j], strata[i]
    out = []
    for i in range(n):
        s = (strata[i] + u()) / n  # position on the F0 axis, 0..1
        f0 = math.exp(math.log(85) + s * (math.log(235) - math.log(85)))
        half_range = 2 ** ((4 + 5 * u()) / 24)  # 4–9 semitones from base to top
        scale = min(1.22, max(0.90, 0.92 + 0.26 * s + 0.08 * (u() - 0.5)))
        formants = []
        for k in range(9):
            jitter = 1 + 0.06 * (u() - 0.5) if 1 <= k <= 5 else 1.0
            freq = 100 if k == 0 else round(100 * min(1.22, max(0.90, scale * jitter)))
            formants.append((freq, round(75 + 40 * u()), round(80 + 80 * u())))
        tilt = 0.6 * (u() - 0.5)
        tone = (
            600,
            170,
            1200,
            round(135 * (1 + tilt / 2)),
            2000,
            round(110 * (1 + tilt)),
            3500,
            round(100 * (1 + 1.5 * tilt)),
        )
        breathy = u() < 0.35
        out.append(
            Variant(
                name=f"v{i:02d}",
                pitch_base=round(f0 / half_range),
                pitch_top=round(f0 * half_range),
                formants=tuple(formants),
                flutter=int(1 + 11 * u()),
                roughness=int(6 * u()),
                breath=1 + int(4 * u()) if breathy else 0,
                breathw=int(120 + 80 * u()),
                tone=tone,
                stress_add=tuple(round(30 * (u() - 0.5)) for _ in range(8)),
            )
        )
    return out


def system_data_dir() -> Path:
    """The system's espeak-ng-data folder. Raises MissingSystemVoiceError when there is none."""
    env = os.environ.get("ESPEAK_DATA_PATH")
    candidates = ([f"{env}/espeak-ng-data", env] if env else []) + list(DATA_CANDIDATES)
    for c in candidates:
        if (Path(c) / "phontab").is_file():
            return Path(c)
    exe = shutil.which("espeak-ng")
    if exe:  # "eSpeak NG text-to-speech: 1.51  Data at: /path/espeak-ng-data"
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout
        if "Data at:" in out and (Path(out.split("Data at:")[1].strip()) / "phontab").is_file():
            return Path(out.split("Data at:")[1].strip())
    raise MissingSystemVoiceError(
        "espeak-ng-data not found (install espeak-ng: scripts/install-system-deps.sh)"
    )


def cache_root() -> Path:
    return cache_home() / "espeak"


def ensure_data_dir(variants: list[Variant] | None = None) -> Path:
    """The private data root (the folder holding ``espeak-ng-data``), built once per content.

    The folder name hashes the variant files, the system data path and its listing, so a change to
    any makes a new folder. It is built under a temporary name and renamed into place: when several workers
    start at once, one rename wins and the others discard their copy.
    """
    variants = make_variants() if variants is None else variants
    system = system_data_dir()
    files = {v.name: v.file_text() for v in variants}
    entries = sorted(e.name for e in system.iterdir())
    digest = hashlib.sha256(repr((str(system), entries, sorted(files.items()))).encode()).hexdigest()[:16]
    final = cache_root() / f"data-{digest}"
    if (final / "espeak-ng-data" / "phontab").exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".build-{digest}-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(tmp, ignore_errors=True)
    data = tmp / "espeak-ng-data"
    (data / "voices" / "!v").mkdir(parents=True)
    for entry in system.iterdir():
        if entry.name != "voices":
            (data / entry.name).symlink_to(entry)
    for name, text in files.items():
        (data / "voices" / "!v" / name).write_text(text, encoding="ascii")
    try:
        os.rename(tmp, final)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return final


class _Event(ctypes.Structure):
    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _Id),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class PhoneMark:
    """A phoneme event: IPA phone ("" for a pause) starting at sample ``sample``."""

    phone: str
    sample: int


@dataclass
class Synthesis:
    """Raw result of one library call."""

    samples: np.ndarray  # int16 [N]
    marks: list[PhoneMark]
    error: str | None


def load_library() -> ctypes.CDLL:
    """libespeak-ng, without initialising it. Raises MissingSystemVoiceError when absent."""
    for name in ("libespeak-ng.so.1", ctypes.util.find_library("espeak-ng")):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
    raise MissingSystemVoiceError("libespeak-ng is not installed (install libespeak-ng1 / espeak-ng)")


class _Library:
    """The initialised library of this process. Public methods hold ``lock``; the ``*_here`` methods
    run inside a child (a render child, or the phonemizer child)."""

    def __init__(self) -> None:
        lib = load_library()
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        root = str(ensure_data_dir()).encode()
        options = _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT
        rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, root, options)
        if rate != SAMPLE_RATE:
            raise MissingSystemVoiceError(f"espeak_Initialize failed (returned {rate}) on {root.decode()}")
        self.lib = lib
        self.lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._marks: list[PhoneMark] = []
        self._callback_error: str | None = None
        self._callback = _CALLBACK(self._on_audio)  # must outlive every synth call
        lib.espeak_SetSynthCallback(self._callback)
        self._voice = b""
        self._phonemizer: _Phonemizer | None = None

    def _on_audio(self, wav, n, events) -> int:
        """Synth callback (runs inside espeak_Synth, same thread): copies samples and phone events."""
        try:
            if n > 0 and wav:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            i = 0
            while events[i].type != _EV_LIST_TERMINATED:
                ev = events[i]
                if ev.type == _EV_PHONEME:
                    phone = ev.id.string.decode("utf-8", "replace").replace("-", "")
                    self._marks.append(PhoneMark(phone, ev.sample))
                i += 1
            return 0
        except Exception as e:  # never let an exception cross the C boundary
            self._callback_error = f"callback: {type(e).__name__}: {e}"
            return 1  # abort synthesis

    def _set_voice(self, name: str) -> str | None:
        key = name.encode()
        if key != self._voice:
            rc = self.lib.espeak_SetVoiceByName(key)
            if rc != 0:
                self._voice = b""
                return f"espeak_SetVoiceByName({name!r}) failed ({rc})"
            self._voice = key
        return None

    def _in_child(self, fn, *args):
        """Runs ``fn(*args)`` in a forked child and returns its result, or None if the child died.
        espeak keeps synthesis state in C statics (flutter and glottal phases, mixed-noise
        positions) that no API resets; this process only ever initialises the library and forks,
        so every render starts from the same pristine state and never depends on earlier renders.
        A fork costs about 4 ms here (a whole espeak render about 25 ms)."""
        with self.lock:
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: compute, send the result, leave without cleanup handlers
                try:
                    os.close(read_fd)
                    with os.fdopen(write_fd, "wb") as pipe:
                        _send(pipe, fn(*args))
                finally:
                    os._exit(0)
            os.close(write_fd)
            with os.fdopen(read_fd, "rb") as pipe:
                try:
                    result = _receive(pipe)
                except EOFError:
                    result = None
            os.waitpid(pid, 0)
        return result

    def synth(self, text: str, voice: str, params: dict[int, int]) -> Synthesis:
        res = self._in_child(self._synth_here, text, voice, params)
        return res or Synthesis(np.zeros(0, np.int16), [], "espeak render process died")

    def _synth_here(self, text: str, voice: str, params: dict[int, int]) -> Synthesis:
        data = text.encode("utf-8") + b"\0"
        err = self._set_voice(voice)
        if err:
            return Synthesis(np.zeros(0, np.int16), [], err)
        for p, value in params.items():
            self.lib.espeak_SetParameter(p, value, 0)
        self._chunks, self._marks, self._callback_error = [], [], None
        rc = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        marks, self._chunks, self._marks = self._marks, [], []
        error = self._callback_error or (f"espeak_Synth failed ({rc})" if rc != 0 else None)
        return Synthesis(samples, marks, error)

    def phonemes(self, text: str, voice: str) -> str:
        """espeak's IPA with stress marks, clause by clause, words separated by spaces. espeak (as
        its ``--ipa``) ends some unstressed words with "-" (fr "lə- kˈa"): not IPA, so removed.

        Answered by this process's phonemizer child (see ``_Phonemizer``), so that this process's
        library stays pristine for the render children while IPA costs no fork per call."""
        with self.lock:
            for _attempt in (0, 1):
                if self._phonemizer is None or self._phonemizer.owner != os.getpid():
                    self._phonemizer = _Phonemizer(self)
                try:
                    return self._phonemizer.ask(text, voice)
                except (OSError, EOFError):  # the child died: start another once
                    self._phonemizer = None
        return ""

    def _phonemes_here(self, text: str, voice: str) -> str:
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        parts = []
        if self._set_voice(voice):
            return ""
        while ptr.value:
            out = self.lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, _PHONEMES_IPA)
            if out:
                parts.append(out.decode("utf-8", "replace").replace("-", "").strip())
        return " ".join(p for p in parts if p)


class _Phonemizer:
    """A child forked once from a process whose library never rendered, answering IPA requests
    in-process over two pipes. Phonemization does not depend on earlier calls (checked: 360
    sentences in 9 languages in three orders, with renders in between, gave the same IPA as a
    pristine process), so one long-lived child serves them all at ~0.5 ms per sentence."""

    def __init__(self, lib: _Library) -> None:
        req_r, req_w = os.pipe()
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: serve until the parent closes its end, then leave
            try:
                os.close(req_w)
                os.close(res_r)
                _serve_phonemes(lib, os.fdopen(req_r, "rb"), os.fdopen(res_w, "wb"))
            finally:
                os._exit(0)
        os.close(req_r)
        os.close(res_w)
        self.owner = os.getpid()
        self._requests = os.fdopen(req_w, "wb")
        self._results = os.fdopen(res_r, "rb")

    def ask(self, text: str, voice: str) -> str:
        _send(self._requests, (text, voice))
        return _receive(self._results)


def _serve_phonemes(lib: _Library, requests, results) -> None:
    while True:
        try:
            text, voice = _receive(requests)
        except EOFError:
            return
        _send(results, lib._phonemes_here(text, voice))


def _send(pipe, obj) -> None:
    """One length-prefixed pickle over a pipe between this process and its own forked children."""
    payload = pickle.dumps(obj)
    pipe.write(len(payload).to_bytes(4, "little") + payload)
    pipe.flush()


def _receive(pipe):
    """The next object ``_send`` wrote; EOFError when the other end has closed."""
    head = pipe.read(4)
    if len(head) < 4:
        raise EOFError
    payload = pipe.read(int.from_bytes(head, "little"))
    return pickle.loads(payload)


_LIB: _Library | None = None
_LIB_GUARD = threading.Lock()


def _library() -> _Library:
    """This process's library, initialised on first use. A forked child keeps the parent's
    (synchronous mode has no threads) but gets a fresh lock."""
    global _LIB
    with _LIB_GUARD:
        if _LIB is None:
            _LIB = _Library()
            os.register_at_fork(after_in_child=_reset_lock_in_child)
        return _LIB


def _reset_lock_in_child() -> None:
    if _LIB is not None:
        _LIB.lock = threading.Lock()


def phonemize(text: str, lang: str) -> str:
    """espeak-ng's IPA for ``text`` in ``lang`` (a corpus language code or an espeak voice name),
    e.g. ``phonemize("hello world", "en") == "həlˈoʊ wˈɜːld"``. Thread-safe; about 0.5 ms per
    sentence. Punctuation is dropped; clauses are joined with a space."""
    return _library().phonemes(text, LANG_VOICES.get(lang, lang))


def prosody_params(prosody: Prosody) -> dict[int, int]:
    """Prosody → espeak parameters: rate 175 wpm × rate; pitch semitones through the measured
    espeakPITCH curve (≈ 0.19 st per step); range 50 × pitch_range (0–99); word gap in 10 ms.
    Measured on four sentences: rate 1.25 / 0.8 → 0.81× / 1.24× the duration; ±3 st → F0 ×1.20 /
    ×0.85 on a 147 Hz variant, ×1.12 / ×0.88 on a 266 Hz one; range 0.6 / 1.4 → F0 spread (10–90 %)
    1.7 / 3.3 st against 2.4; word gap 2 → 1.12× the duration."""
    pitch = float(np.interp(prosody.pitch, PITCH_TABLE_ST, PITCH_TABLE_P))
    return {
        _RATE: max(80, min(450, round(BASE_RATE_WPM * prosody.rate))),
        _VOLUME: VOLUME,
        _PITCH: max(0, min(99, round(pitch))),
        _RANGE: max(0, min(99, round(50 * prosody.pitch_range))),
        _WORDGAP: max(0, int(prosody.word_gap)),
    }


def phone_spans(marks: list[PhoneMark], n_samples: int, rate: int = SAMPLE_RATE) -> list[PhoneSpan]:
    """Contiguous spans covering the audio: each phone lasts until the next event; pauses ("" events
    and the lead-in before the first phone) become ``_`` and consecutive pauses merge."""
    points = [PhoneMark("_", 0)]
    for m in marks:
        s = min(max(m.sample, points[-1].sample), n_samples)
        points.append(PhoneMark(m.phone or "_", s))
    spans: list[PhoneSpan] = []
    for cur, nxt in zip(points, points[1:] + [PhoneMark("", n_samples)], strict=True):
        if nxt.sample <= cur.sample:
            continue
        start = cur.sample
        if spans and cur.phone == "_" and spans[-1].phone == "_":
            start = round(spans.pop().start * rate)
        spans.append(PhoneSpan(cur.phone, start / rate, (nxt.sample - start) / rate))
    return spans


class EspeakEngine(Engine):
    """espeak-ng formant voices with pseudo-speaker variants, rendered in-process."""

    name = "espeak"
    requires = ()

    @classmethod
    def check_installed(cls) -> None:
        load_library()
        system_data_dir()

    @classmethod
    def voices(cls) -> list[VoiceSpec]:
        out = []
        for v in make_variants():
            for lang, base in LANG_VOICES.items():
                out.append(
                    VoiceSpec(
                        id=f"espeak-{lang}-{v.name}",
                        engine="espeak",
                        lang=lang,
                        speaker_group=f"espeak-{v.name}",
                        gender=v.gender,
                        license=LICENSE,
                        kind="pseudo",
                        params={"voice": base, "variant": v.name, "f0": round(v.f0)},
                    )
                )
        return out

    def available(self, voice: VoiceSpec) -> bool:
        return voice.engine == self.name and voice.lang in LANG_VOICES

    def render(self, text: str, voice: VoiceSpec, prosody: Prosody) -> RenderResult:
        if nothing_to_say(text):
            return failed("nothing to say (no letter or digit)", SAMPLE_RATE)
        lib = _library()
        name = f"{voice.params['voice']}+{voice.params['variant']}"
        res = lib.synth(text, name, prosody_params(prosody))
        samples = res.samples.astype(np.float32) / 32768.0
        problems = [res.error] if res.error else audio_problems(samples)
        phones = phone_spans(res.marks, len(samples)) if not problems else None
        phonemes = lib.phonemes(text, voice.params["voice"]) if not problems else None
        return RenderResult(samples, SAMPLE_RATE, phones=phones, phonemes=phonemes, problems=problems)
