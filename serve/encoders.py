"""Audio encoders for the wire, incremental: float32 samples in, the format's bytes out as they are ready.

| format | bytes                                                        | delay added             |
| ------ | ------------------------------------------------------------ | ----------------------- |
| pcm    | raw 16-bit little-endian mono, no header (OpenAI's ``pcm``)   | none                    |
| wav    | a streaming WAV header (sizes 0xFFFFFFFF) then 16-bit PCM    | none                    |
| ulaw   | G.711 μ-law, one byte per sample, no header                  | none                    |
| alaw   | G.711 A-law, one byte per sample, no header                  | none                    |
| mp3    | MPEG audio frames (LAME through ``lameenc``), 64 kbit/s CBR  | one MP3 frame (~50 ms)  |
| opus   | Ogg Opus (libsndfile), one Ogg page per chunk                | one Opus frame (20 ms)  |
| flac   | FLAC (libsndfile); the header's length field says "unknown"  | one FLAC block (~170 ms)|

The concatenation of everything ``encode`` and ``finish`` return is one valid file of that format.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np

from serve.g711 import linear_to_alaw, linear_to_ulaw

STREAMED_SIZE = 0xFFFFFFFF  # RIFF/data size in a WAV header written before the length is known
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
SFC_SET_OGG_PAGE_LATENCY_MS = 0x1302  # libsndfile >= 1.2: how much audio an Ogg page may hold
MP3_KBPS = 64


@dataclass(frozen=True)
class AudioFormat:
    name: str
    media_type: str
    default_rate: int
    rates: tuple[int, ...] | None  # None: any rate the server offers
    bytes_per_sample: int | None  # fixed-size formats (for pacing and usage); None: compressed


FORMATS: dict[str, AudioFormat] = {
    "pcm": AudioFormat("pcm", "audio/pcm", 24000, None, 2),
    "wav": AudioFormat("wav", "audio/wav", 24000, None, 2),
    "ulaw": AudioFormat("ulaw", "audio/basic", 8000, (8000,), 1),
    "alaw": AudioFormat("alaw", "audio/x-alaw-basic", 8000, (8000,), 1),
    "mp3": AudioFormat("mp3", "audio/mpeg", 24000, MP3_RATES, None),
    "opus": AudioFormat("opus", "audio/ogg", 24000, OPUS_RATES, None),
    "flac": AudioFormat("flac", "audio/flac", 24000, None, None),
}
# Sample rates a client may ask for (24 kHz is the model's own).
SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def check_format(fmt: str, sample_rate: int | None) -> int:
    """The sample rate to use for ``fmt`` (its default when None); ValueError with one line if refused."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown response_format {fmt!r} (use one of {', '.join(FORMATS)})")
    f = FORMATS[fmt]
    rate = f.default_rate if sample_rate is None else int(sample_rate)
    if rate not in SAMPLE_RATES:
        raise ValueError(
            f"sample_rate {rate} is not offered (use one of {', '.join(map(str, SAMPLE_RATES))})"
        )
    if f.rates is not None and rate not in f.rates:
        raise ValueError(f"{fmt} needs sample_rate in {', '.join(map(str, f.rates))}, got {rate}")
    return rate


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")


class Encoder:
    """Base: ``encode(float32 [n]) -> bytes`` any number of times, then ``finish() -> bytes`` once."""

    def encode(self, x: np.ndarray) -> bytes:
        raise NotImplementedError

    def finish(self) -> bytes:
        return b""


class PcmEncoder(Encoder):
    def encode(self, x):
        return to_int16(x).tobytes()


class WavEncoder(Encoder):
    def __init__(self, rate: int):
        self.header = wav_header(rate)

    def encode(self, x):
        out, self.header = self.header + to_int16(x).tobytes(), b""
        return out

    def finish(self):
        out, self.header = self.header, b""  # an empty stream is still a valid (empty) WAV
        return out


class G711Encoder(Encoder):
    def __init__(self, law: str):
        self.fn = linear_to_ulaw if law == "ulaw" else linear_to_alaw

    def encode(self, x):
        return self.fn(to_int16(x)).tobytes()


class Mp3Encoder(Encoder):
    def __init__(self, rate: int):
        import lameenc

        self.enc = lameenc.Encoder()
        self.enc.set_bit_rate(MP3_KBPS)
        self.enc.set_in_sample_rate(rate)
        self.enc.set_channels(1)
        self.enc.set_quality(5)

    def encode(self, x):
        return bytes(self.enc.encode(to_int16(x).tobytes()))

    def finish(self):
        return bytes(self.enc.flush())


class SoundfileEncoder(Encoder):
    """libsndfile writing into memory; only bytes appended since the last call are returned (the header
    fields libsndfile rewrites at close, e.g. FLAC's total length, stay "unknown" in the stream)."""

    def __init__(self, rate: int, fmt: str, subtype: str):
        import soundfile as sf

        self.buf = io.BytesIO()
        self.file = sf.SoundFile(self.buf, "w", samplerate=rate, channels=1, format=fmt, subtype=subtype)
        if fmt == "OGG":
            from soundfile import _ffi, _snd

            ms = _ffi.new("double*", 20.0)
            _snd.sf_command(self.file._file, SFC_SET_OGG_PAGE_LATENCY_MS, ms, _ffi.sizeof("double"))
        self.sent = 0

    def _new(self) -> bytes:
        data = self.buf.getbuffer()
        out = bytes(data[self.sent :])
        self.sent = len(data)
        del data
        return out

    def encode(self, x):
        if len(x):
            self.file.write(np.asarray(x, dtype=np.float32))
        return self._new()

    def finish(self):
        self.file.close()
        return self._new()


def wav_header(rate: int) -> bytes:
    """A 44-byte PCM WAV header for a stream of unknown length (16-bit mono)."""
    byte_rate = rate * 2
    return (
        b"RIFF"
        + struct.pack("<I", STREAMED_SIZE)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, byte_rate, 2, 16)
        + b"data"
        + struct.pack("<I", STREAMED_SIZE)
    )


def make_encoder(fmt: str, rate: int) -> Encoder:
    if fmt == "pcm":
        return PcmEncoder()
    if fmt == "wav":
        return WavEncoder(rate)
    if fmt in ("ulaw", "alaw"):
        return G711Encoder(fmt)
    if fmt == "mp3":
        return Mp3Encoder(rate)
    if fmt == "opus":
        return SoundfileEncoder(rate, "OGG", "OPUS")
    if fmt == "flac":
        return SoundfileEncoder(rate, "FLAC", "PCM_16")
    raise ValueError(f"unknown response_format {fmt!r}")
