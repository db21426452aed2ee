"""The voice library behind ``/v1/audio/voices``: the model's presets (read-only) and uploaded voices.

An upload is checked before any model work: size (the HTTP layer caps the body), that libsndfile can read
it, its length from the header (a 2-hour file is refused without being decoded), sample rate, loudness
(not near-silent, not clipped) and, after silence trimming, 3–25 s of speech (``flowtts.voices``). The
codec then encodes it in a thread (one upload at a time), beside the model worker.

Storage is the ``flowtts.voices.VoiceLibrary`` folder, one ``<id>.safetensors`` per voice: written to a
temporary file, fsync'ed, then *linked* to its final name, which fails if the name exists (so two
uploads of one name, even from two replicas sharing the folder, cannot overwrite each other), and the
folder is fsync'ed after every change, so an acknowledged voice survives a crash. Ids are
``[a-z0-9][a-z0-9_.-]{0,63}`` (made from the name given), so no id can address a path outside the store.
The consent statement, when it was recorded, by which API key (a fingerprint, never the key) and the
upload's properties are stored in the voice's metadata.
"""

from __future__ import annotations

import calendar
import io
import os
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowtts.errors import FlowTTSError
from flowtts.voices import MAX_SECONDS, NAME_RE, Voice, VoiceLibrary, voice_from_audio
from serve.errors import ApiError

MAX_FILE_SECONDS = 60.0  # a clip longer than this (before trimming silence) is refused unread
MIN_RATE, MAX_RATE = 8000, 192000
QUIET_PEAK_DB = -40.0  # a clip whose peak is below this is refused as (nearly) silent
CLIPPED_SHARE = 0.01  # more than this share of samples at full scale: refused as clipped
MAX_CONSENT_CHARS = 2000
MAX_TRANSCRIPT_CHARS = 2000


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    name: str
    kind: str  # "preset" (ships with the model), "library" (uploaded) or "pack" (a fine-tuned voice pack)
    created_at: int
    duration_s: float
    language: str
    transcript: str
    consent: str

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "object": "audio.voice",
            "type": {"preset": "preset", "pack": "voice_pack"}.get(self.kind, "audio_sample"),
            "name": self.name,
            "created_at": self.created_at,
            "duration_s": round(self.duration_s, 2),
            "language": self.language,
            "transcript": self.transcript,
            "consent": self.consent,
            "deletable": self.kind == "library",
        }


def voice_id(name: str) -> str:
    """The store id for a display name: ASCII (accents dropped), lower case, other runs become ``-``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_.]+", "-", ascii_name.strip().lower()).strip("-._")[:64].rstrip("-._")
    slug = re.sub(r"\.{2,}", ".", slug)
    if not slug or not NAME_RE.match(slug):
        raise ApiError(
            400, "invalid_name", "name must contain letters or digits (it becomes the voice id)", "name"
        )
    return slug


class VoiceStore:
    def __init__(self, tts):
        self.tts = tts
        self.presets: VoiceLibrary = tts.presets
        self.library: VoiceLibrary = tts.library
        self._cache: dict[str, tuple[float, Voice]] = {}  # id -> (file mtime, voice): stable objects
        self._lock = threading.Lock()
        self.packs: dict[str, object] = {}  # voice id -> flowtts.adapters.pack.VoicePack (attached at start)

    def load_pack(self, path: str | os.PathLike) -> None:
        """Reads the voice pack folder ``path``, attaches its adapter to the model and serves it as the voice
        ``pack.name`` (its reference prompt + its adapter). A bad or foreign pack, or a name that is already
        a voice: one-line ``FlowTTSError``."""
        from flowtts.adapters.pack import VoicePack

        pack = VoicePack.load(path)
        if pack.name in self.presets or pack.name in self.library or pack.name in self.packs:
            raise FlowTTSError(f"voice pack {pack.name!r}: a voice with that id already exists")
        self.packs[pack.name] = self.tts.add_voice_pack(pack)

    def pack_of(self, vid: str) -> str | None:
        """The voice pack (adapter name) behind voice ``vid``; None for a preset or library voice."""
        return vid if vid in self.packs else None

    # --- reading -------------------------------------------------------------------------------------

    def ids(self) -> list[str]:
        return sorted(set(self.presets.names()) | set(self.library.names()) | set(self.packs))

    def get(self, vid: str) -> Voice:
        """The voice of ``vid`` (a preset hides a library voice of the same id); ApiError 400 if unknown.

        The same ``Voice`` object is returned while its file is unchanged, so the model's per-voice prefix
        cache hits."""
        if isinstance(vid, str) and vid in self.packs:
            return self.packs[vid].voice
        if not isinstance(vid, str) or not NAME_RE.match(vid) or ".." in vid:
            raise ApiError(400, "unknown_voice", f"unknown voice {str(vid)[:80]!r}", "voice")
        lib = self.presets if vid in self.presets else self.library if vid in self.library else None
        if lib is None:
            raise ApiError(
                400, "unknown_voice", f"unknown voice {vid!r} (list them: GET /v1/audio/voices)", "voice"
            )
        path = lib.path(vid)
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            raise ApiError(400, "unknown_voice", f"unknown voice {vid!r}", "voice") from None
        with self._lock:
            hit = self._cache.get(vid)
            if hit is not None and hit[0] == mtime:
                return hit[1]
        try:
            voice = lib.get(vid)
        except FlowTTSError as e:
            raise ApiError(400, "unreadable_voice", f"voice {vid!r} cannot be read: {e}", "voice") from None
        with self._lock:
            self._cache[vid] = (mtime, voice)
        return voice

    def info(self, vid: str) -> VoiceInfo:
        voice = self.get(vid)
        kind = "pack" if vid in self.packs else "preset" if vid in self.presets else "library"
        meta = voice.metadata or {}
        created = meta.get("created", "")
        try:
            ts = calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ")) if created else 0
        except ValueError:
            ts = 0
        return VoiceInfo(
            vid,
            meta.get("display_name", vid),
            kind,
            ts,
            voice.duration_s,
            voice.lang,
            voice.transcript,
            meta.get("consent", ""),
        )

    def list(self) -> list[VoiceInfo]:
        out = []
        for vid in self.ids():
            try:
                out.append(self.info(vid))
            except ApiError:
                continue  # a damaged file is skipped in the listing (and refused when used)
        return out

    # --- writing -------------------------------------------------------------------------------------

    def create(
        self,
        data: bytes,
        name: str,
        consent: str,
        transcript: str = "",
        language: str = "",
        filename: str = "",
        created_by: str | None = None,
    ) -> VoiceInfo:
        """Validates an uploaded clip, encodes it and stores it (blocking: run it in a thread)."""
        vid = voice_id(name)
        consent = (consent or "").strip()
        if not consent:
            raise ApiError(
                400,
                "consent_required",
                "consent is required: say how the speaker agreed to have their voice cloned",
                "consent",
            )
        if len(consent) > MAX_CONSENT_CHARS or len(transcript) > MAX_TRANSCRIPT_CHARS:
            raise ApiError(400, "field_too_long", "consent and transcript are limited to 2000 characters")
        if language:
            try:
                self.tts.tokenizer.lang_id(language)
            except FlowTTSError as e:
                raise ApiError(400, "unsupported_language", str(e), "language") from None
        if vid in self.presets or vid in self.library or vid in self.packs:
            raise ApiError(409, "voice_exists", f"a voice with id {vid!r} already exists", "name")
        samples, rate, seconds = decode_clip(data)
        metadata = {
            "display_name": name.strip()[:200],
            "consent": consent,
            "consent_recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "created_by": created_by or "anonymous",
            "source": "upload",
            "upload_filename": re.sub(r"[^\w.\- ]", "_", filename or "")[:120],
            "upload_seconds": f"{seconds:.2f}",
            "upload_sample_rate": str(rate),
        }
        try:
            voice = voice_from_audio(
                self.tts.codec, samples, rate, vid, transcript.strip(), language, metadata
            )
        except FlowTTSError as e:
            raise ApiError(400, "invalid_audio", str(e), "audio_sample") from None
        self._store_new(voice)
        return self.info(vid)

    def _store_new(self, voice: Voice) -> None:
        root = self.library.root
        root.mkdir(parents=True, exist_ok=True)
        final = self.library.path(voice.name)
        tmp = root / f".upload-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}.part"
        try:
            voice.save(tmp)  # atomic + fsync'ed
            try:
                os.link(tmp, final)  # fails if the id exists: never overwrites
            except FileExistsError:
                raise ApiError(
                    409, "voice_exists", f"a voice with id {voice.name!r} already exists", "name"
                ) from None
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(root)

    def delete(self, vid: str) -> None:
        if not isinstance(vid, str) or not NAME_RE.match(vid) or ".." in vid:
            raise ApiError(404, "voice_not_found", f"no voice {str(vid)[:80]!r}")
        if vid in self.presets:
            raise ApiError(403, "preset_voice", f"{vid!r} is a preset of the model and cannot be deleted")
        if vid in self.packs:
            raise ApiError(403, "voice_pack", f"{vid!r} is a voice pack given at server start (--voice-pack)")
        path = self.library.path(vid)
        try:
            path.unlink()
        except FileNotFoundError:
            raise ApiError(404, "voice_not_found", f"no voice {vid!r}") from None
        _fsync_dir(self.library.root)
        with self._lock:
            self._cache.pop(vid, None)


def decode_clip(data: bytes) -> tuple[np.ndarray, int, float]:
    """An uploaded file -> (mono float32 samples, sample rate, seconds); ApiError 400 when refused."""
    import soundfile as sf

    if not data:
        raise ApiError(400, "invalid_audio", "the uploaded file is empty", "audio_sample")
    try:
        info = sf.info(io.BytesIO(data))
    except Exception:
        raise ApiError(
            400,
            "invalid_audio",
            "the upload is not an audio file this server can read (send WAV, FLAC, OGG, MP3 …)",
            "audio_sample",
        ) from None
    rate = int(info.samplerate)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ApiError(
            400, "invalid_audio", f"sample rate {rate} Hz is outside {MIN_RATE}–{MAX_RATE} Hz", "audio_sample"
        )
    seconds = info.frames / rate
    if info.frames <= 0 or seconds > MAX_FILE_SECONDS:
        what = "of unknown length" if info.frames <= 0 or info.frames >= 2**62 else f"{seconds:.0f} s long"
        raise ApiError(
            400,
            "clip_too_long",
            f"the clip is {what}; send {MAX_SECONDS:.0f} s or less of speech",
            "audio_sample",
        )
    try:
        x, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception:
        raise ApiError(
            400, "invalid_audio", "the audio file is damaged and cannot be decoded", "audio_sample"
        ) from None
    x = x.mean(axis=1)
    if x.size == 0 or not np.isfinite(x).all():
        raise ApiError(400, "invalid_audio", "the clip is empty or has invalid samples", "audio_sample")
    peak = float(np.abs(x).max())
    if peak <= 10 ** (QUIET_PEAK_DB / 20):
        raise ApiError(
            400,
            "clip_too_quiet",
            f"the clip is silent or too quiet (peak below {QUIET_PEAK_DB:g} dBFS)",
            "audio_sample",
        )
    if float(np.mean(np.abs(x) >= 0.999)) > CLIPPED_SHARE:
        raise ApiError(
            400,
            "clip_clipped",
            "the clip is clipped (too many samples at full scale); record it at a lower level",
            "audio_sample",
        )
    return x, rate, len(x) / rate


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
