"""The ``flowtts`` command: git-style subcommands, one module each under ``flowtts.cli``.

Importing this package does no work: each subcommand module only declares its flags here and
imports what it needs (torch, the corpus builder, …) inside its ``run`` function.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from flowtts import __version__
from flowtts.errors import FlowTTSError

# Subcommand modules, each with ``add_parser(subparsers)``. A subcommand is listed only once it works.
SUBCOMMANDS = ("data", "text", "doctor")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowtts", description="flowtts: streaming text-to-speech (Voxtral-style)."
    )
    parser.add_argument("--version", action="version", version=f"flowtts {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"flowtts.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flowtts`` console script. Returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FlowTTSError as e:
        print(f"flowtts: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("flowtts: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
