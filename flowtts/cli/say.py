"""``flowtts say``: speak text into an audio file, or to standard output as it is generated.

flowtts say "Hello there." -o hello.wav
flowtts say --voice-clip me.wav --speed 1.2 -o - < story.txt | aplay   # streamed as it is made
flowtts say --stream -o book.flac < book.txt                           # written as it is made
flowtts say --voice-pack my-voice/ "Hello there." -o hello.wav         # a pack from `flowtts finetune`
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

from flowtts.constants import LANGUAGES

FORMATS = {".wav": "wav", ".flac": "flac"}
STREAMED_WAV_SIZE = 0xFFFFFFFF  # RIFF/data size in a WAV header written before the length is known


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "say",
        help="speak text into an audio file (or standard output)",
        description="Speak text with a flowtts model into a 24 kHz mono 16-bit audio file. The text is "
        "normalized and split into sentences; the audio of all of them is one continuous file. One "
        "summary line (duration, real-time factor, time to first audio) goes to standard error.",
    )
    p.add_argument(
        "text", nargs="?", default=None, help="the text to speak; omit it (or give -) to read standard input"
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="audio file to write, .wav or .flac by its suffix; - streams to standard output as the "
        "audio is made (WAV, or raw 16-bit PCM with --format pcm)",
    )
    p.add_argument(
        "--format",
        choices=("wav", "flac", "pcm"),
        default=None,
        help="output format, instead of the file's suffix (pcm: raw 16-bit little-endian 24 kHz mono, "
        "no header; standard output takes wav or pcm, default wav)",
    )
    p.add_argument(
        "--model", metavar="DIR", default=None, help="model folder (default: the embedded default model)"
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--voice",
        metavar="NAME",
        default=None,
        help="a preset of the model or a voice of your library (see `flowtts voices list`; "
        "default: the model's first preset)",
    )
    who.add_argument(
        "--voice-clip",
        metavar="CLIP",
        default=None,
        help="speak in the voice of this 3–25 s audio clip (zero-shot cloning; nothing is stored)",
    )
    p.add_argument(
        "--voice-pack",
        metavar="PACK_DIR",
        default=None,
        help="speak with a voice pack from `flowtts finetune`: its adapter on the model (which must be the "
        "pack's base model) and its reference prompt as the voice unless --voice or --voice-clip is given",
    )
    p.add_argument(
        "--voices-dir",
        metavar="DIR",
        default=None,
        help="your voice library (default: $FLOWTTS_HOME/voices, else ~/.local/share/flowtts/voices)",
    )
    p.add_argument("--lang", default="en", choices=LANGUAGES, help="language of the text (default: en)")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        metavar="N",
        help="ODE steps of the flow head (default: the model's, 8)",
    )
    p.add_argument(
        "--cfg",
        type=float,
        default=None,
        metavar="ALPHA",
        help="classifier-free guidance strength (default: the model's, about 1.2; 1 = off)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed: the same seed gives the same audio (default: random)",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="speaking rate from 0.5 to 2.0; the pitch is kept (default: 1.0)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sampling temperature of the semantic tokens (default: the model's; 0 = greedy)",
    )
    p.add_argument(
        "--stream",
        action="store_true",
        help="write the file as the audio is generated, without holding it all in memory (it gets "
        "its complete header and final name at the end; standard output is always streamed)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    p.set_defaults(func=run)


def output_format(output: str, fmt: str | None) -> str:
    """``wav``, ``flac`` or ``pcm`` for ``-o OUTPUT [--format FMT]``, or a ``FlowTTSError``."""
    from flowtts.errors import FlowTTSError

    if output == "-":
        if fmt == "flac":
            raise FlowTTSError("FLAC cannot be written to standard output; use --format wav or pcm")
        return fmt or "wav"
    if fmt:
        return fmt
    suffix = Path(output).suffix.lower()
    if suffix not in FORMATS:
        raise FlowTTSError(
            f"unsupported output suffix {suffix or '(none)'!r} in {output} (use .wav or .flac, "
            "or --format wav|flac|pcm)"
        )
    return FORMATS[suffix]


def read_text(text: str | None) -> str:
    if text is not None and text != "-":
        return text
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        print("flowtts: reading the text from standard input (end with Ctrl-D)", file=sys.stderr)
    return sys.stdin.read()


def run(args: argparse.Namespace) -> int:
    import itertools
    import time

    import flowtts
    from flowtts.errors import FlowTTSError
    from flowtts.training.loop import pick_device

    fmt = output_format(args.output, args.format)
    if not 0.5 <= args.speed <= 2.0:
        raise FlowTTSError(f"--speed must be in [0.5, 2.0], got {args.speed}")
    if args.output != "-":
        parent = Path(args.output).resolve().parent
        if not parent.is_dir():
            raise FlowTTSError(f"cannot write {args.output}: folder {parent} does not exist")
    text = read_text(args.text)
    device = pick_device(args.device)

    t0 = time.perf_counter()
    pack = None
    model = args.model
    if args.voice_pack is not None:
        from flowtts.adapters.pack import VoicePack

        pack = VoicePack.load(args.voice_pack)
        if pack.kind == "full":  # a whole model of its own: it replaces --model
            if args.model is not None:
                raise FlowTTSError(
                    f"--voice-pack {args.voice_pack} is a full fine-tune (a model); drop --model"
                )
            model = str(pack.model_dir)
    tts = flowtts.load(model, device=str(device), voices_dir=args.voices_dir)
    voice_pack = tts.add_voice_pack(pack).name if pack is not None and pack.kind == "lora" else None
    if args.voice_clip is not None:
        voice = tts.clone(args.voice_clip, name="clip", lang=args.lang)
    elif args.voice is None and pack is not None:
        voice = pack.voice
    else:
        voice = args.voice
    t_loaded = time.perf_counter()
    chunks = tts.stream(
        text,
        voice=voice,
        lang=args.lang,
        steps=args.steps,
        cfg=args.cfg,
        seed=args.seed,
        speed=args.speed,
        temperature=args.temperature,
        voice_pack=voice_pack,
    )
    # Pull the first chunk before any output is opened: bad text, voice or options fail here, and
    # leave neither a header on standard output nor a temporary file behind.
    head = next(chunks, None)
    t_first = time.perf_counter()
    audio = itertools.chain([] if head is None else [head], chunks)
    if args.output == "-":
        samples = _to_stdout(audio, fmt)
    elif args.stream:
        samples = _stream_to_file(audio, Path(args.output), fmt)
    else:
        samples = _write_file(Path(args.output), list(audio), fmt)
    t_end = time.perf_counter()
    seconds = samples / tts.sample_rate
    took = t_end - t_loaded
    rtf = took / seconds if seconds > 0 else float("inf")
    ttfa = f"{t_first - t_loaded:.3f} s" if head is not None else "none"
    name = "<stdout>" if args.output == "-" else args.output
    print(
        f"{name}: {seconds:.2f} s of audio in {took:.2f} s (real-time factor {rtf:.3f}), "
        f"first audio after {ttfa}; model loaded in {t_loaded - t0:.2f} s",
        file=sys.stderr,
    )
    return 0


# --- writers ----------------------------------------------------------------------------------------------


def int16(samples):
    """float32 [-1, 1] -> int16, rounded to nearest. Every output path (WAV, FLAC, PCM, streamed or not)
    converts here, so they all hold the same samples (libsndfile's own conversion differs by format)."""
    import numpy as np

    return np.rint(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")


def pcm16(samples) -> bytes:
    """float32 [-1, 1] -> 16-bit little-endian PCM bytes."""
    return int16(samples).tobytes()


def wav_header(data_bytes: int | None, sample_rate: int = 24000) -> bytes:
    """44-byte header of 16-bit mono PCM WAV; ``None``: length unknown (streamed)."""
    if data_bytes is None or data_bytes > STREAMED_WAV_SIZE - 36:
        riff = data = STREAMED_WAV_SIZE
    else:
        riff, data = 36 + data_bytes, data_bytes
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", data)
    )


def _to_stdout(chunks, fmt: str) -> int:
    """Writes each chunk to standard output as it comes (WAV: after a header whose sizes say "unknown",
    which players of piped WAV and libsndfile accept); returns the sample count."""
    out = sys.stdout.buffer
    n = 0
    try:
        if fmt == "wav":
            out.write(wav_header(None))
        for c in chunks:
            out.write(pcm16(c))
            out.flush()
            n += len(c)
        return n
    except BrokenPipeError:
        # the reader went away (e.g. `| head -c 1000`): stop quietly, without a second error at exit
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        raise


def _write_file(path: Path, chunks: list, fmt: str) -> int:
    """Writes the whole audio at once, atomically; returns the sample count."""
    import numpy as np
    import soundfile as sf

    from flowtts.atomic import atomic_path
    from flowtts.constants import SAMPLE_RATE
    from flowtts.errors import FlowTTSError

    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    try:
        with atomic_path(path) as tmp:
            if fmt == "flac":
                sf.write(tmp, int16(audio), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            else:
                data = pcm16(audio)
                tmp.write_bytes((wav_header(len(data)) if fmt == "wav" else b"") + data)
    except OSError as e:
        raise FlowTTSError(f"cannot write {path}: {e.strerror or e}") from e
    return len(audio)


def _stream_to_file(chunks, path: Path, fmt: str) -> int:
    """Writes chunks to a temporary file beside ``path`` as they arrive (flushed each time), completes
    the header at the end and renames it to ``path``; returns the sample count."""
    import soundfile as sf

    from flowtts.atomic import atomic_path
    from flowtts.constants import SAMPLE_RATE
    from flowtts.errors import FlowTTSError

    n = 0
    try:
        with atomic_path(path) as tmp:
            if fmt == "flac":
                with sf.SoundFile(tmp, "w", SAMPLE_RATE, 1, subtype="PCM_16", format="FLAC") as f:
                    for c in chunks:
                        f.write(int16(c))
                        f.flush()
                        n += len(c)
            else:
                with open(tmp, "wb") as f:
                    if fmt == "wav":
                        f.write(wav_header(None))
                    for c in chunks:
                        f.write(pcm16(c))
                        f.flush()
                        n += len(c)
                    if fmt == "wav":
                        f.seek(0)
                        f.write(wav_header(2 * n))
                    f.flush()
                    os.fsync(f.fileno())
    except OSError as e:
        raise FlowTTSError(f"cannot write {path}: {e.strerror or e}") from e
    return n
