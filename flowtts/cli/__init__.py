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
SUBCOMMANDS = ("say", "voices", "data", "text", "codec", "train", "finetune", "release", "doctor")
# More subcommands come from installed plugins (see ``_add_plugins``).
PLUGIN_GROUP = "flowtts.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowtts", description="flowtts: streaming text-to-speech (Voxtral-style)."
    )
    parser.add_argument("--version", action="version", version=f"flowtts {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"flowtts.cli.{name}").add_parser(sub)
    _add_plugins(sub)
    return parser


def _add_plugins(sub: argparse._SubParsersAction) -> None:
    """Subcommands from other installed packages: modules with ``add_parser(subparsers)`` listed under the
    entry-point group ``flowtts.commands`` (e.g. ``flowtts eval``). A plugin that fails to load is
    skipped with a warning, so it cannot break the built-in commands."""
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda ep: ep.name):
        if ep.name in SUBCOMMANDS or ep.name in sub.choices:
            continue
        try:
            ep.load().add_parser(sub)
        except Exception as e:  # any plugin failure must leave the built-in commands usable
            print(f"flowtts: warning: command plugin {ep.name!r} not loaded: {e}", file=sys.stderr)


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
