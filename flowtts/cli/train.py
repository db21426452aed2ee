"""``flowtts train codec|tts``: training runs. Resumable; DDP under torchrun."""

from __future__ import annotations

import argparse
import os
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
    c.add_argument(
        "--init",
        default=None,
        metavar="CODEC",
        help="start a new run from these weights (a codec.safetensors; its architecture wins over the "
        "config's [codec]); ignored when OUT already has a checkpoint. With freeze_frames = true in the "
        "config this trains the decoder of an existing codec further without changing its frames",
    )
    c.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    c.set_defaults(func=run_codec)
    t = tsub.add_parser(
        "tts",
        help="train the TTS model (backbone + flow head) on codec frames of a corpus",
        description="Train the TTS model. The corpus's codec frames are computed once (resumable) under "
        "CORPUS/frames/<codec-id>/. Re-running the same command with the same --out resumes. OUT/model/ is a "
        "complete model folder, refreshed at each validation.",
    )
    t.add_argument("--config", required=True, help="TOML training config (see configs/tts.toml)")
    t.add_argument(
        "--corpus", required=True, help="corpus folder (from `flowtts data synth` or `data prepare`)"
    )
    t.add_argument("--codec", required=True, help="codec.safetensors (from `flowtts train codec`)")
    t.add_argument("--tokenizer", required=True, help="tokenizer.model (from `flowtts text train-tokenizer`)")
    t.add_argument("--out", required=True, help="run folder: checkpoints, logs, samples, model/")
    t.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    t.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        metavar="M",
        help="checkpoint and stop after M minutes of wall time (resume later with the same command)",
    )
    t.add_argument("--steps", type=int, default=None, help="override the config's total number of steps")
    t.add_argument(
        "--init",
        default=None,
        metavar="FILE",
        help="a new run starts from these weights (a checkpoint's or a model folder's model.safetensors): "
        "tensors of the same shape are copied; the text embedding and text-CTC head keep the rows both "
        "text vocabularies share (e.g. to move a run to the phoneme frontend); ignored when resuming",
    )
    t.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    t.set_defaults(func=run_tts)


def _checked(args: argparse.Namespace, config):
    """The flags every training command shares, checked (one-line errors) and applied to ``config``."""
    from dataclasses import replace
    from pathlib import Path

    from flowtts.atomic import ensure_writable_dirs
    from flowtts.errors import FlowTTSError

    if args.steps is not None:
        if args.steps < 1:
            raise FlowTTSError("--steps must be >= 1")
        config = replace(config, steps=args.steps)
    if not (Path(args.corpus) / "manifests").is_dir():
        raise FlowTTSError(f"{args.corpus}: not a corpus folder (no manifests/)")
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise FlowTTSError("--max-minutes must be > 0")
    ensure_writable_dirs([Path(args.out)], args.out)
    return config


def run_codec(args: argparse.Namespace) -> int:
    from pathlib import Path

    from codec.training.config import CodecTrainConfig
    from codec.training.trainer import train
    from flowtts.errors import FlowTTSError

    config = _checked(args, CodecTrainConfig.load(args.config))
    if args.init is not None and not Path(args.init).is_file():
        raise FlowTTSError(f"--init {args.init}: no such file")
    result = train(
        config,
        args.corpus,
        args.out,
        args.device,
        args.max_minutes,
        progress=not args.no_progress,
        init=args.init,
    )
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun, rank 0 reports
    state = "stopped (resume with the same command)" if result.stopped_early else "finished"
    print(
        f"codec training {state} at step {result.step}: {result.out / 'codec.safetensors'}", file=sys.stderr
    )
    return 0


def run_tts(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flowtts.errors import FlowTTSError
    from flowtts.training.tts_config import TTSTrainConfig
    from flowtts.training.tts_trainer import train_tts

    for what, path in (("--codec", args.codec), ("--tokenizer", args.tokenizer), ("--init", args.init)):
        if path is not None and not Path(path).is_file():
            raise FlowTTSError(f"{what} {path}: no such file")
    config = _checked(args, TTSTrainConfig.load(args.config))
    result = train_tts(
        config,
        args.corpus,
        args.codec,
        args.tokenizer,
        args.out,
        args.device,
        args.max_minutes,
        not args.no_progress,
        init=args.init,
    )
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun, rank 0 reports
    state = "stopped (resume with the same command)" if result.stopped_early else "finished"
    print(f"TTS training {state} at step {result.step}: {result.out / 'model'}", file=sys.stderr)
    return 0
