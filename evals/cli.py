"""``flowtts eval``: benchmarks and judges, registered as a plugin of the ``flowtts`` command.

flowtts never names ``evals``: pyproject.toml lists this module under the entry-point group
``flowtts.commands`` and ``flowtts.cli.build_parser`` calls ``add_parser`` of every module in that group.
Heavy imports (torch, the codec, pocketsphinx) happen inside the ``run_*`` functions.
"""

from __future__ import annotations

import argparse
import sys


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="benchmarks: codec resynthesis quality, intelligibility, speed",
        description="Evaluate models against the design targets and write JSON + Markdown reports.",
    )
    esub = p.add_subparsers(dest="eval_command", metavar="ACTION")
    esub.required = True
    c = esub.add_parser(
        "codec",
        help="codec resynthesis: STOI, PESQ, mel distance, PER, ASR WER ratio, bitrate, speed",
        description="Encode and decode a corpus split with a codec and measure STOI, wideband PESQ, mel "
        "distance and phoneme error rate (per language and seen / held-out voice), the English ASR WER "
        "ratio resynthesis / original (pocketsphinx, closed vocabulary), bitrate, codebook use and CPU "
        "speed; writes <out>/<name>.json and .md with pass/fail against the targets.",
    )
    c.add_argument(
        "--codec",
        default=None,
        help="codec.safetensors or a folder holding it (default: the embedded default model)",
    )
    c.add_argument("--corpus", required=True, help="corpus folder (with manifests/) built by `flowtts data`")
    c.add_argument(
        "--split",
        default="test",
        choices=("train", "valid", "test"),
        help="which split of the corpus to evaluate on (default: test)",
    )
    c.add_argument(
        "--max-per-group",
        type=_non_negative_int,
        default=50,
        metavar="N",
        help="at most N utterances per language × voice group (seen / held-out), chosen deterministically; "
        "0 = all (default: 50)",
    )
    c.add_argument("--no-speed", action="store_true", help="skip the CPU speed measurements")
    c.add_argument("--no-wer", action="store_true", help="skip the English ASR intelligibility judge")
    c.add_argument("--out", default="reports", help="folder for the report files (default: reports)")
    c.add_argument(
        "--name",
        default=None,
        help="report file name without extension (default: codec-<split>)",
    )
    c.set_defaults(func=run_codec)


def run_codec(args: argparse.Namespace) -> int:
    from pathlib import Path

    from evals.codec_eval import evaluate_codec, render_markdown
    from evals.report import write_report
    from flowtts.atomic import ensure_writable_dirs
    from flowtts.errors import FlowTTSError

    corpus = Path(args.corpus)
    if not corpus.is_dir():
        raise FlowTTSError(f"corpus folder {corpus} does not exist")
    if args.codec is not None and not Path(args.codec).exists():
        raise FlowTTSError(f"codec {args.codec} does not exist")
    name = args.name or f"codec-{args.split}"
    if not name or "/" in name or name.startswith("."):
        raise FlowTTSError(f"--name {name!r}: give a plain file name without folders")
    ensure_writable_dirs([Path(args.out)], "the report folder")
    report = evaluate_codec(
        args.codec,
        corpus,
        split=args.split,
        max_per_group=args.max_per_group or None,
        speed=not args.no_speed,
        wer=not args.no_wer,
    )
    json_path, md_path = write_report(args.out, name, report, render_markdown(report))
    for ch in report["checks"]:
        value = "not measured" if ch["value"] is None else f"{ch['value']:.3g}"
        result = {True: "pass", False: "FAIL", None: "-"}[ch["pass"]]
        print(f"{ch['label']:<40} {value:>14}  {ch['op']} {ch['target']:g}  {result}")
    print(f"verdict: {report['verdict']}")
    print(f"report: {json_path} {md_path}", file=sys.stderr)
    return 0
