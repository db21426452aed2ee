"""``flowtts finetune``: adapt a base model to one speaker's recordings and write a voice pack.

flowtts finetune recordings/ --base default --out my-voice/ --lang en
flowtts say --voice-pack my-voice/ "Hello there." -o hello.wav
"""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Declares the subcommand and its flags (no work at import)."""
    from flowtts.constants import LANGUAGES

    p = sub.add_parser(
        "finetune",
        help="adapt a model to a speaker's recordings (LoRA) and write a voice pack",
        description="Prepare a folder of one speaker's recordings (resample, trim, split long files, reject "
        "bad clips with a reason), hold out a tenth, and train LoRA adapters on the backbone and the flow "
        "head (or every weight with --full) with early stopping on the held-out loss. Writes a voice pack: "
        "adapter.safetensors, voice.safetensors (reference prompt), pack.json, REPORT.md, samples/. "
        "Interrupted runs (Ctrl-C, SIGTERM) resume when the same command is run again. Needs at least "
        "3 minutes of usable audio (5 minutes of recordings or more).",
    )
    p.add_argument(
        "data",
        metavar="DATA",
        help="an LJSpeech folder (metadata.csv + wavs/) or a folder of audio files (wav, flac, mp3, ...) "
        "each with a same-stem .txt transcript",
    )
    p.add_argument(
        "--base",
        default="default",
        metavar="MODEL",
        help="the model to adapt: default (the embedded model) or a model folder (default: default)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="PACK_DIR",
        help="voice pack folder to write (its work/ holds the run)",
    )
    p.add_argument("--lang", default="en", choices=LANGUAGES, help="language of the recordings (default: en)")
    p.add_argument(
        "--voice-name",
        default=None,
        metavar="NAME",
        help="the pack's name, a-z 0-9 _ . - (default: the PACK_DIR folder's name)",
    )
    p.add_argument(
        "--full", action="store_true", help="train every weight instead of LoRA adapters (a large pack)"
    )
    p.add_argument("--rank", type=int, default=None, metavar="R", help="LoRA rank (default: 16)")
    p.add_argument(
        "--alpha", type=float, default=None, metavar="A", help="LoRA alpha; scale alpha/rank (default: 32)"
    )
    add_targets_flag(p)
    p.add_argument(
        "--steps", type=int, default=None, metavar="N", help="at most N training steps (default: 1000)"
    )
    p.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        metavar="N",
        help="at most N passes over the clips (default: no limit)",
    )
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="peak learning rate (default: 1e-3 with LoRA, 5e-5 with --full)",
    )
    p.add_argument(
        "--batch-positions",
        type=int,
        default=None,
        metavar="N",
        help="padded sequence positions per batch; memory and step time grow with it (default: 2000)",
    )
    p.add_argument(
        "--valid-fraction",
        type=float,
        default=None,
        metavar="F",
        help="share of the files held out for validation and early stopping (default: 0.1, at least 2)",
    )
    p.add_argument(
        "--val-every", type=int, default=None, metavar="N", help="validate every N steps (default: 50)"
    )
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        metavar="N",
        help="stop after N validations without improvement (default: 6)",
    )
    p.add_argument(
        "--min-minutes",
        type=float,
        default=None,
        metavar="M",
        help="refuse to train on less usable audio than this (default: 3)",
    )
    p.add_argument(
        "--max-clip-seconds",
        type=float,
        default=None,
        metavar="S",
        help="split longer files at sentence pauses, or reject them (default: 15)",
    )
    p.add_argument(
        "--samples",
        type=int,
        default=None,
        metavar="N",
        help="held-out sentences spoken before and after into samples/ (default: 2)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the split, the initialisation and the steps (default: 0)",
    )
    p.add_argument(
        "--threads", type=int, default=None, metavar="N", help="torch CPU threads (default: torch's)"
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    again = p.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in PACK_DIR/work (fail if there is none)",
    )
    again.add_argument(
        "--restart",
        action="store_true",
        help="discard PACK_DIR's run and pack (only the files finetune writes)",
    )
    p.add_argument(
        "--keep-work", action="store_true", help="keep PACK_DIR/work (prepared clips, checkpoints) at the end"
    )
    p.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    p.set_defaults(func=run)


def add_targets_flag(p: argparse.ArgumentParser) -> None:
    """``--targets LIST``: the layers to adapt (read with ``parse_targets``); shared with ``flowtts eval
    finetune``."""
    p.add_argument(
        "--targets",
        default=None,
        metavar="LIST",
        help="comma-separated layers to adapt: attention, ffn, flow, input, or module-name patterns "
        "(default: attention,ffn,flow)",
    )


def parse_targets(text: str) -> tuple[str, ...]:
    """The ``FinetuneConfig.targets`` of a ``--targets`` value: its comma-separated names."""
    return tuple(t.strip() for t in text.split(",") if t.strip())


# flags that only override the FinetuneConfig field of the same name
_SETTINGS = (
    "rank",
    "alpha",
    "steps",
    "max_epochs",
    "lr",
    "batch_positions",
    "valid_fraction",
    "val_every",
    "patience",
    "min_minutes",
    "max_clip_seconds",
    "samples",
    "seed",
    "threads",
)


def config_from_args(args: argparse.Namespace):
    """The ``FinetuneConfig`` of the flags (defaults for the ones not given); bad values: one line."""
    from flowtts.finetune.config import FinetuneConfig

    over = {name: getattr(args, name) for name in _SETTINGS if getattr(args, name) is not None}
    if args.full:
        over["full"] = True
    if args.targets is not None:
        over["targets"] = parse_targets(args.targets)
    return FinetuneConfig(**over)


def print_summary(summary) -> None:
    """The data summary, every rejected file and why: printed before training starts (or stops)."""
    print(
        f"{summary.voice}: {summary.minutes_usable:.1f} minutes usable in {summary.clips_kept} of "
        f"{summary.clips_found} files (train {summary.train_clips} clips, held out {summary.valid_clips})"
    )
    if summary.rejected:
        reasons = ", ".join(f"{k} {n}" for k, n in summary.by_reason().items())
        print(f"skipped {len(summary.rejected)}: {reasons}")
        for r in summary.rejected:
            print(f"  {r.path}: {r.reason}" + (f" ({r.detail})" if r.detail else ""))
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from flowtts.finetune import Callback, adapt

    progress = not args.no_progress and sys.stderr.isatty()

    class Report(Callback):
        def on_data(self, summary) -> None:
            print_summary(summary)

        def on_validation(self, step, metrics) -> None:
            if not progress:  # the progress bar prints these lines itself
                print(
                    f"step {step}: held-out loss {metrics['valid_loss']:.4f} "
                    f"(best {metrics['best_valid_loss']:.4f})",
                    file=sys.stderr,
                    flush=True,
                )

    config = config_from_args(args)
    result = adapt(
        args.data,
        base=args.base,
        out=args.out,
        config=config,
        callbacks=[Report()],
        lang=args.lang,
        name=args.voice_name,
        device=args.device,
        restart=args.restart,
        resume=args.resume,
        keep_work=args.keep_work,
        progress=progress,
    )
    if result.stopped:
        print(
            f"flowtts: interrupted at step {result.step}; run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    b, a = result.before["valid_loss"], result.after["valid_loss"]
    print(
        f"voice pack {result.name!r}: {result.pack} ({result.pack_bytes / 1e6:.1f} MB); "
        f"{result.step} steps ({result.stopped_by}), best at {result.best_step}; "
        f"held-out loss {b:.3f} -> {a:.3f}; {result.seconds / 60:.1f} min"
    )
    if result.best_step == 0:
        print(
            "flowtts: warning: training never improved the held-out loss; the pack speaks like the base "
            "model (try more data, another --lr or --rank)",
            file=sys.stderr,
        )
    print(f'use it: flowtts say --voice-pack {result.pack} "Some text." -o out.wav')
    return 0
