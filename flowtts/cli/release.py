"""``flowtts release``: assemble a shippable model folder from training outputs, in one command.

    flowtts release --tts runs/tts-v1/model --codec runs/codec-dec-v1/codec.safetensors \\
        --corpus corpus --out flowtts/models/default

Writes the TTS weights and the codec in float16 (the codec without its CTC phoneme head), the tokenizer,
preset voices (``<lang>-<k>``: a train clip of a seen corpus voice each) and the generated section of
MODEL_CARD.md; the folder is replaced only when everything is written and fits ``--max-mb``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "release",
        help="assemble a shippable model folder (weights, codec, tokenizer, preset voices, card)",
        description="Build a model folder from a TTS run's model folder, the codec it was trained with and "
        "the corpus: float16 weights, the codec without its CTC phoneme head, preset voices from the "
        "corpus's seen voices, and the generated section of the folder's MODEL_CARD.md (between "
        "<!-- release:begin --> and <!-- release:end -->; the rest of the card is kept). The folder is "
        "replaced only after everything is written and the total fits --max-mb.",
    )
    p.add_argument("--tts", required=True, metavar="DIR", help="TTS model folder of a run (runs/<run>/model)")
    p.add_argument(
        "--codec",
        required=True,
        metavar="FILE",
        help="codec.safetensors the TTS model was trained with (its frames_id must be the model's codec_id)",
    )
    p.add_argument(
        "--corpus",
        required=True,
        metavar="DIR",
        help="the corpus of the TTS run (preset voices come from it)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="model folder to replace, e.g. flowtts/models/default (its MODEL_CARD.md text is kept)",
    )
    p.add_argument(
        "--voices-per-lang",
        type=int,
        default=2,
        metavar="N",
        help="preset voices per language, named <lang>-1 … <lang>-N (default: 2; 0: none)",
    )
    p.add_argument(
        "--max-mb",
        type=float,
        default=60.0,
        metavar="MB",
        help="refuse a release whose files total more than this many MB (10^6 bytes; default: 60)",
    )
    p.add_argument(
        "--name",
        default=None,
        help="model name in config.json (default: the TTS folder's name field, else flowtts-<out folder>)",
    )
    p.add_argument(
        "--voice-engines",
        default=None,
        metavar="LIST",
        help="comma-separated corpus engines presets may come from, e.g. espeak,flite,rhvoice,festival "
        "(default: any; licences differ per engine)",
    )
    p.add_argument(
        "--exact-frames",
        action="store_true",
        help="keep the codec's encoder and quantizers float32: frames bit-identical to training and the "
        "same frames_id (about 10 MB more for the default codec)",
    )
    p.add_argument(
        "--device", default="cpu", help="device that encodes the preset clips: cpu, cuda or cuda:N"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from flowtts.release_build import CARD, MB, ReleaseInputs, build_release

    engines = None
    if args.voice_engines:
        engines = tuple(e.strip() for e in args.voice_engines.split(",") if e.strip())
    inputs = ReleaseInputs(
        tts=Path(args.tts),
        codec=Path(args.codec),
        corpus=Path(args.corpus),
        out=Path(args.out),
        voices_per_lang=args.voices_per_lang,
        max_mb=args.max_mb,
        name=args.name,
        voice_engines=engines,
        exact_frames=args.exact_frames,
        device=args.device,
    )
    # progress on stdout, with the summary: standard error stays one line when the build is refused
    r = build_release(inputs, log=lambda line: print(line, flush=True))
    for note in r.notes:
        print(f"flowtts: note: {note}", file=sys.stderr)
    voice_files = r.voice_files
    for f in r.files:
        if f not in voice_files:
            print(f"  {f.path:<20} {f.bytes / MB:8.2f} MB")
    print(f"  {'voices/':<20} {sum(f.bytes for f in voice_files) / MB:8.2f} MB ({len(voice_files)} files)")
    print(f"  {'total':<20} {r.total_mb:8.2f} MB (max {args.max_mb:g})")
    langs = sorted({v.lang for v in r.voices})
    names = ", ".join(v.name for v in r.voices) or "none"
    print(f"voices: {len(r.voices)} in {len(langs)} languages: {names}")
    print(
        f"released {r.name!r} to {r.out} (TTS step {r.tts_step or '?'}, codec step {r.codec_step or '?'}, "
        f"frames_id {r.frames_id}); {CARD} section updated"
    )
    return 0
