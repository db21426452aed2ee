"""``flowtts data``: build the offline speech corpus and ingest recordings.

Each data subcommand lives in ``flowtts/cli/data_<name>.py`` with its own ``add_parser``.
"""

from __future__ import annotations

import argparse
import importlib

DATA_SUBCOMMANDS = ("texts", "synth", "stats", "prepare", "encode")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="build the synthetic speech corpus, inspect it, ingest recordings",
        description="Build the offline multilingual speech corpus and prepare user recordings.",
    )
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    dsub.required = True
    for name in DATA_SUBCOMMANDS:
        importlib.import_module(f"flowtts.cli.data_{name}").add_parser(dsub)
