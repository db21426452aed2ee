"""``flowtts codec``: encode audio files to frames and decode frames to audio with a trained codec."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "codec",
        help="encode audio to codec frames, decode frames to audio",
        description="Use the neural codec on files: audio -> frames (.safetensors) -> 24 kHz audio.",
    )
    csub = p.add_subparsers(dest="codec_command", metavar="ACTION")
    csub.required = True
    e = csub.add_parser(
        "encode",
        help="audio file -> frames file",
        description="Encode an audio file (any rate libsndfile reads; stereo is mixed down, other rates "
        "are resampled to 24 kHz) to a frames file (semantic ids + acoustic latents, safetensors).",
    )
    e.add_argument("input", help="audio file (wav, flac, ogg, mp3, …)")
    e.add_argument("output", help="frames file to write (.safetensors)")
    _common(e)
    e.set_defaults(func=run_encode)
    d = csub.add_parser(
        "decode",
        help="frames file -> 24 kHz audio file",
        description="Decode a frames file to 24 kHz mono audio (.wav or .flac).",
    )
    d.add_argument("input", help="frames file written by `flowtts codec encode`")
    d.add_argument("output", help="audio file to write (.wav or .flac)")
    _common(d)
    d.set_defaults(func=run_decode)
    r = csub.add_parser(
        "resynth",
        help="audio file -> encode -> decode -> audio file",
        description="Encode and decode an audio file in one go (to listen to what the codec keeps).",
    )
    r.add_argument("input", help="audio file")
    r.add_argument("output", help="audio file to write (.wav or .flac)")
    _common(r)
    r.set_defaults(func=run_resynth)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--codec",
        default=None,
        help="codec.safetensors or a model folder holding it (default: the embedded default model)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")


def _load(args: argparse.Namespace):
    from codec.release import load_codec

    return load_codec(args.codec, device=args.device)


def run_encode(args: argparse.Namespace) -> int:
    from codec.audio_input import load_for_codec

    codec = _load(args)
    prepared = load_for_codec(args.input)
    for note in prepared.notes:
        print(f"flowtts: note: {note}", file=sys.stderr)
    frames = codec.encode(prepared.samples.to(args.device))
    frames.save(args.output)
    print(
        f"{args.output}: {frames.num_frames} frames ({frames.duration_s:.2f} s, "
        f"{codec.config.bitrate:.0f} bit/s)",
        file=sys.stderr,
    )
    return 0


def run_decode(args: argparse.Namespace) -> int:
    from codec.frames import Frames
    from flowtts.audio import write_audio_atomic
    from flowtts.constants import SAMPLE_RATE

    codec = _load(args)
    frames = Frames.load(args.input, device=args.device)
    if frames.batch_size != 1:
        from flowtts.errors import FlowTTSError

        raise FlowTTSError(f"{args.input}: holds a batch of {frames.batch_size}; decode writes one file")
    audio = codec.decode(frames)[0].clamp(-1, 1).cpu().numpy()
    write_audio_atomic(args.output, audio, SAMPLE_RATE)
    print(f"{args.output}: {len(audio) / SAMPLE_RATE:.2f} s at {SAMPLE_RATE} Hz", file=sys.stderr)
    return 0


def run_resynth(args: argparse.Namespace) -> int:
    from codec.audio_input import load_for_codec
    from flowtts.audio import write_audio_atomic
    from flowtts.constants import SAMPLE_RATE

    codec = _load(args)
    prepared = load_for_codec(args.input)
    for note in prepared.notes:
        print(f"flowtts: note: {note}", file=sys.stderr)
    audio = codec.decode(codec.encode(prepared.samples.to(args.device)))[0]
    audio = audio[: prepared.samples.shape[-1]].clamp(-1, 1).cpu().numpy()
    write_audio_atomic(args.output, audio, SAMPLE_RATE)
    return 0
