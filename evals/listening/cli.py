"""``flowtts eval mushra|winrate build|serve|analyze``: the listening tests on the command line.

    flowtts eval mushra build mushra.toml --out listening/v1     # config -> test folder (audio + test.json)
    flowtts eval mushra serve listening/v1 --host 0.0.0.0        # the listening pages; answers in SQLite
    flowtts eval mushra analyze listening/v1 --out reports       # statistics -> JSON + Markdown + PNG

``evals.cli.add_parser`` calls ``add_parsers``; nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import sys

DEFAULT_PORT = 8765
KIND_HELP = {
    "mushra": (
        "MUSHRA listening test (ITU-R BS.1534-3): build, serve, analyze",
        "MUSHRA: every screen plays one item as each system, the hidden reference and the 3.5 / 7 kHz "
        "low-pass anchors; listeners rate each 0–100 against the open reference.",
    ),
    "winrate": (
        "blind A/B preference test (win rate): build, serve, analyze",
        "Win rate: every screen plays one item as two systems in random order (A / B); listeners pick the "
        "better one, or no preference when the config allows ties.",
    ),
}


def _port(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"must be in 1..65535, got {v}")
    return v


def add_parsers(esub: argparse._SubParsersAction) -> None:
    """Adds ``mushra`` and ``winrate`` (each with build, serve, analyze) under ``flowtts eval``."""
    for kind, (short, long) in KIND_HELP.items():
        p = esub.add_parser(kind, help=short, description=long)
        sub = p.add_subparsers(
            dest="listening_action",
            metavar="ACTION",
            help="build a test, serve its pages, or analyze answers",
        )
        sub.required = True

        b = sub.add_parser(
            "build",
            help="make a test folder from a config (audio folders and/or synthesis)",
            description=f"{long} Reads CONFIG (TOML: items, conditions; see evals/listening/config.py), "
            "reads or synthesizes every stimulus, resamples, loudness-matches (BS.1770)"
            + (", adds the hidden reference and the anchors" if kind == "mushra" else "")
            + " and writes a self-contained test folder: audio under opaque names and test.json.",
        )
        b.add_argument("config", metavar="CONFIG", help="the test config (TOML)")
        b.add_argument(
            "--out",
            metavar="DIR",
            default=None,
            help="the test folder to write (default: listening/<the config's name>)",
        )
        b.add_argument(
            "--force",
            action="store_true",
            help="rebuild over an existing test folder (its answers are kept under DIR/previous/)",
        )
        b.add_argument(
            "--device",
            default="cpu",
            help="device for synthesized conditions: cpu, cuda, cuda:N (default: cpu)",
        )
        b.set_defaults(func=run_build, listening_kind=kind)

        s = sub.add_parser(
            "serve",
            help="serve the listening pages of a built test; answers go to SQLite",
            description="Serve the listening pages of TEST_DIR over HTTP (a welcome page, a training page, "
            "then one screen per "
            + ("item" if kind == "mushra" else "item and pair")
            + "). Each listener gets their own random order and resumes where they stopped (same "
            "address or browser). Every answer is one SQLite transaction (WAL mode), saved when the "
            "page moves on. Stop with Ctrl+C.",
        )
        s.add_argument("test_dir", metavar="TEST_DIR", help="a folder made by build")
        s.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to listen on; 0.0.0.0 for every interface (default: 127.0.0.1)",
        )
        s.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
        s.add_argument(
            "--db",
            metavar="FILE",
            default=None,
            help="the answers database (default: TEST_DIR/results.sqlite)",
        )
        s.set_defaults(func=run_serve, listening_kind=kind)

        a = sub.add_parser(
            "analyze",
            help="statistics of the stored answers -> JSON + Markdown report and a PNG plot",
            description=(
                "Post-screen the listeners (BS.1534: hidden reference and mid anchor rules), then mean and "
                "95 % confidence interval per condition, paired tests between conditions and a box plot."
                if kind == "mushra"
                else "Wins, ties and losses per pair with confidence intervals and significance tests, and "
                "a plot."
            )
            + " Writes <out>/<name>.json, .md and .png; the report records the systems, the config hash, "
            "the commit, the machine and the date.",
        )
        a.add_argument("test_dir", metavar="TEST_DIR", help="a folder made by build")
        a.add_argument(
            "--db",
            metavar="FILE",
            default=None,
            help="the answers database (default: TEST_DIR/results.sqlite)",
        )
        a.add_argument("--out", default="reports", help="folder for the report files (default: reports)")
        a.add_argument(
            "--name", default=None, help=f"report file name without extension (default: {kind}-<test name>)"
        )
        a.add_argument(
            "--complete-only",
            action="store_true",
            help="only listeners who answered every screen (default: every stored answer)",
        )
        a.set_defaults(func=run_analyze, listening_kind=kind)


def run_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from evals.listening.build import build_test
    from evals.listening.config import load_config

    kind = args.listening_kind
    config = load_config(args.config, kind)
    out = Path(args.out) if args.out else Path("listening") / config.name
    result = build_test(
        config, out, force=args.force, device=args.device, log=lambda m: print(m, file=sys.stderr)
    )
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    m = result.manifest
    screens = len(m.items) if kind == "mushra" else len(m.items) * len(m.pairs)
    print(f"test folder: {result.test_dir}")
    print(f"{len(m.items)} items, conditions: {', '.join(m.conditions)}; {screens} screens per listener")
    print(f"serve it: flowtts eval {kind} serve {result.test_dir}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    import socket
    from pathlib import Path

    from flowtts.errors import FlowTTSError

    try:
        import uvicorn
    except ImportError as e:
        raise FlowTTSError(f"serving needs the 'serve' extra: pip install 'flowtts[serve]' ({e})") from None
    from evals.listening.manifest import DB_NAME, load_manifest
    from evals.listening.server import create_listening_app

    load_manifest(args.test_dir, args.listening_kind, check_audio=False)  # the right kind, before anything
    app = create_listening_app(args.test_dir, args.db)
    try:
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        sock = socket.create_server((args.host, args.port), family=family)
    except OSError as e:
        raise FlowTTSError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    shown = socket.gethostname() if args.host in ("0.0.0.0", "::") else args.host
    db = args.db or Path(args.test_dir) / DB_NAME
    print(f"listening test {app.state.manifest.name!r} at http://{shown}:{args.port}/", file=sys.stderr)
    print(f"answers: {db} (saved as they come; Ctrl+C stops the server)", file=sys.stderr)
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", access_log=False, timeout_graceful_shutdown=5, lifespan="off"
        )
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    from evals.listening.analyze import analyze_test

    result = analyze_test(
        args.test_dir,
        args.listening_kind,
        db=args.db,
        out=args.out,
        name=args.name,
        complete_only=args.complete_only,
    )
    print(f"{result.answers} answers from {result.listeners} listeners")
    plot = f" {result.plot_path}" if result.plot_path else " (no plot: nothing to draw)"
    print(f"report: {result.json_path} {result.markdown_path}{plot}", file=sys.stderr)
    return 0
