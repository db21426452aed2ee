"""``flowtts data prepare``: ingest a user's recordings into the corpus manifest format."""

from __future__ import annotations

import argparse
import os
import sys


def add_parser(dsub: argparse._SubParsersAction) -> None:
    """Declares the ``prepare`` subcommand and its flags (no work at import)."""
    from flowtts.constants import LANGUAGES

    p = dsub.add_parser(
        "prepare",
        help="ingest your recordings (LJSpeech folder, or audio + .txt transcripts) into a manifest",
        description="Resample to 24 kHz mono, trim silence, normalize loudness, split long clips at "
        "sentence pauses (approximately) and reject unusable files with a reason. Writes "
        "OUT/audio/<voice>/*.flac, OUT/manifests/prepared-<voice>.jsonl and "
        "OUT/reports/prepare-<voice>.json.",
    )
    p.add_argument(
        "input",
        metavar="INPUT",
        help="an LJSpeech folder (metadata.csv + wavs/) or a folder of audio files "
        "(wav, flac, ogg, mp3, ...) each with a same-stem .txt transcript",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="corpus folder to write into")
    p.add_argument(
        "--lang", required=True, metavar="LANG", help=f"language of the recordings: {' '.join(LANGUAGES)}"
    )
    p.add_argument(
        "--voice", metavar="NAME", help="voice id, [a-z0-9_-] (default: the INPUT folder name, sanitised)"
    )
    p.add_argument("--speaker-group", metavar="G", help="speaker group of the voice (default: the voice)")
    p.add_argument("--gender", choices=("female", "male"), help="the speaker's gender, if known")
    p.add_argument("--license", metavar="TEXT", help="licence of the recordings (default: user-provided)")
    p.add_argument(
        "--min-seconds",
        type=float,
        default=1.0,
        metavar="S",
        help="reject clips shorter than this after trimming silence (default: 1.0)",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=15.0,
        metavar="S",
        help="split longer clips at sentence pauses, or reject them (default: 15.0)",
    )
    p.add_argument(
        "--valid-fraction",
        type=float,
        default=0.05,
        metavar="F",
        help="share of clips for the valid split (default: 0.05)",
    )
    p.add_argument(
        "--test-fraction",
        type=float,
        default=0.05,
        metavar="F",
        help="share of clips for the test split (default: 0.05)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the deterministic split hash (default: 0)")
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker processes (default: the CPU count)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Runs the preparation and prints a short summary; exit 1 when no clip was usable."""
    from flowtts.data.prepare import prepare_recordings

    rep = prepare_recordings(
        args.input,
        args.out,
        args.lang,
        voice=args.voice,
        speaker_group=args.speaker_group,
        gender=args.gender,
        license=args.license,
        min_seconds=args.min_seconds,
        max_seconds=args.max_seconds,
        valid_fraction=args.valid_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        jobs=args.jobs,
        progress=sys.stderr.isatty(),
    )
    splits = {s: sum(1 for u in rep.kept if u.split == s) for s in ("train", "valid", "test")}
    approx = sum(1 for u in rep.kept if u.prosody.get("split") == "approximate")
    print(
        f"{rep.voice}: {rep.minutes_usable:.1f} minutes usable in {len(rep.kept)} clips "
        f"(train {splits['train']}, valid {splits['valid']}, test {splits['test']}"
        + (f"; {approx} from approximate splits of long files" if approx else "")
        + ")"
    )
    if rep.rejected:
        reasons = ", ".join(f"{k} {n}" for k, n in rep.by_reason().items())
        print(f"rejected {len(rep.rejected)}: {reasons}")
    print(f"manifest: {rep.manifest_path}")
    print(f"report (every rejected file and why): {rep.report_path}")
    if not rep.kept:
        print(
            "flowtts: error: no usable clips; see the report for why each file was rejected", file=sys.stderr
        )
        return 1
    return 0
