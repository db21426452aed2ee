"""``flowtts doctor``: checks (and with --fix-torchaudio repairs) this machine's setup."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="check the installation (torch, vocos, synthesis engines)",
        description="Check that torch, vocos and the corpus builder's synthesis engines work here.",
    )
    p.add_argument(
        "--fix-torchaudio",
        action="store_true",
        help="make torchaudio (needed by vocos) import on a CPU-only torch by removing its CUDA-linked "
        "extension libraries",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from flowtts import doctor

    if args.fix_torchaudio:
        doctor.fix_torchaudio()
    report = doctor.check()
    for line in report.lines:
        print(line)
    return 0 if report.ok else 1
