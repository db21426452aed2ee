"""``flowtts train``: training runs (``codec`` now; the TTS model joins it). Resumable, DDP under torchrun."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model (codec) from a corpus; resumes automatically",
        description="Train models. Runs on CPU or CUDA; for several processes start it with "
        "`torchrun --nproc-per-node N -m flowtts train ...`.",
    )
    tsub = p.add_subparsers(dest="train_command", metavar="MODEL")
    tsub.required = True
    c = tsub.add_parser(
        "codec",
        help="train the neural audio codec",
        description="Train the codec (encoder, semantic VQ + acoustic FSQ, Vocos decoder, CTC phoneme head) "
        "on a corpus folder. Re-running the same command with the same --out resumes from the newest "
        "checkpoint. The latest validated weights are written to OUT/codec.safetensors.",
    )
    c.add_argument("--config", required=True, help="TOML training config (see configs/codec.toml)")
    c.add_argument(
        "--corpus", required=True, help="corpus folder (from `flowtts data synth` or `data prepare`)"
    )
    c.add_argument("--out", required=True, help="run folder: checkpoints, logs, samples, codec.safetensors")
    c.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    c.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        metavar="M",
        help="checkpoint and stop after M minutes of wall time (resume later with the same command)",
    )
    c.add_argument("--steps", type=int, default=None, help="override the config's total number of steps")
    c.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    c.set_defaults(func=run_codec)


def run_codec(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from codec.training.config import CodecTrainConfig
    from codec.training.trainer import train
    from flowtts.atomic import ensure_writable_dirs
    from flowtts.errors import FlowTTSError

    config = CodecTrainConfig.load(args.config)
    if args.steps is not None:
        if args.steps < 1:
            raise FlowTTSError("--steps must be >= 1")
        config = replace(config, steps=args.steps)
    if not (Path(args.corpus) / "manifests").is_dir():
        raise FlowTTSError(f"{args.corpus}: not a corpus folder (no manifests/)")
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise FlowTTSError("--max-minutes must be > 0")
    ensure_writable_dirs([Path(args.out)], args.out)
    result = train(
        config, args.corpus, args.out, args.device, args.max_minutes, progress=not args.no_progress
    )
    state = "stopped (resume with the same command)" if result.stopped_early else "finished"
    print(
        f"codec training {state} at step {result.step}: {result.out / 'codec.safetensors'}", file=sys.stderr
    )
    return 0
