"""``flowtts voices``: list the voices a model can speak with, add your own from a clip, remove them.

    flowtts voices list
    flowtts voices add me me.wav --transcript "What I say in the clip." --lang en --consent "my own voice"
    flowtts say --voice me "Hello." -o hello.wav
    flowtts voices remove me

Presets ship inside a model folder (``voices/``); your voices live in your library (``--voices-dir``,
default ``$FLOWTTS_HOME/voices``, else ``~/.local/share/flowtts/voices``) and work with every model that
uses the same codec. A preset hides a voice of your library with the same name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flowtts.constants import LANGUAGES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "voices",
        help="list, add and remove voices (presets and your library)",
        description="Voices are codec frames of a 3–25 s clip (+ its transcript). Presets come with a model; "
        "you can add your own to a library from any audio clip.",
    )
    vsub = p.add_subparsers(dest="voices_command", metavar="ACTION")
    vsub.required = True

    ls = vsub.add_parser(
        "list",
        help="list the model's presets and your voices",
        description="List the model's preset voices and the voices of your library, with duration, "
        "language and source.",
    )
    _model(ls)
    _library(ls)
    ls.add_argument("--json", action="store_true", help="print one JSON array instead of a table")
    ls.set_defaults(func=run_list)

    add = vsub.add_parser(
        "add",
        help="add a voice to your library from a 3–25 s clip",
        description="Encode a 3–25 s clip of one person speaking (any format and sample rate libsndfile "
        "reads; silence at the ends is trimmed) with the model's codec and store it in your library.",
    )
    add.add_argument("name", help="name of the new voice: 1–64 characters a-z 0-9 _ . - (e.g. anna-2)")
    add.add_argument("clip", help="audio file with 3–25 s of speech")
    add.add_argument(
        "--transcript", default="", metavar="TEXT", help="what is said in the clip (improves cloning)"
    )
    add.add_argument("--lang", default=None, choices=LANGUAGES, help="language spoken in the clip")
    add.add_argument(
        "--consent",
        default=None,
        metavar="TEXT",
        help="how the speaker agreed to be cloned (stored with the voice, e.g. 'my own voice')",
    )
    add.add_argument("--force", action="store_true", help="replace a voice of that name in your library")
    _model(add)
    _library(add)
    add.add_argument("--device", default="cpu", help="device that runs the codec: cpu, cuda, cuda:N or auto")
    add.set_defaults(func=run_add)

    rm = vsub.add_parser(
        "remove", help="remove a voice from your library", description="Delete a voice from your library."
    )
    rm.add_argument("name", help="the voice to remove")
    _library(rm)
    rm.set_defaults(func=run_remove)


def _model(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", metavar="DIR", default=None, help="model folder (default: the embedded default model)"
    )


def _library(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--voices-dir",
        metavar="DIR",
        default=None,
        help="your voice library (default: $FLOWTTS_HOME/voices, else ~/.local/share/flowtts/voices)",
    )


def _library_of(args: argparse.Namespace):
    from flowtts.voices import VoiceLibrary

    return VoiceLibrary(args.voices_dir if args.voices_dir else VoiceLibrary.default_root())


def _model_root(args: argparse.Namespace) -> tuple[Path, bool]:
    """The model folder and whether it is there (the default model may not be installed)."""
    from flowtts.errors import FlowTTSError
    from flowtts.model_dir import default_model_dir
    from flowtts.release import ModelFiles

    if args.model is None:
        root = default_model_dir()
        return root, ModelFiles(root).config.exists()
    root = Path(args.model)
    if not ModelFiles(root).config.exists():
        raise FlowTTSError(f"{root}: not a flowtts model folder (no config.json)")
    return root, True


def _row(library, name: str, kind: str) -> dict:
    from flowtts.errors import FlowTTSError

    row = {
        "name": name,
        "kind": kind,
        "seconds": None,
        "lang": "",
        "source": "",
        "transcript": "",
        "path": "",
    }
    row["path"] = str(library.path(name))
    try:
        v = library.get(name)
    except FlowTTSError as e:
        row["error"] = str(e)
        return row
    row.update(
        seconds=round(v.duration_s, 2),
        lang=v.lang,
        source=v.metadata.get("source", ""),
        transcript=v.transcript,
    )
    for key in ("consent", "created", "codec"):
        if key in v.metadata:
            row[key] = v.metadata[key]
    return row


def run_list(args: argparse.Namespace) -> int:
    import json

    from flowtts.release import ModelFiles
    from flowtts.voices import VoiceLibrary

    root, installed = _model_root(args)
    presets = VoiceLibrary(ModelFiles(root).voices)
    library = _library_of(args)
    preset_names = set(presets.names()) if installed else set()
    rows = [_row(presets, n, "preset") for n in sorted(preset_names)]
    for n in library.names():
        rows.append(_row(library, n, "user (hidden by preset)" if n in preset_names else "user"))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if not installed:
        print("flowtts: note: the default model is not installed; listing your library only", file=sys.stderr)
    if not rows:
        print(f"no voices (your library: {library.root})", file=sys.stderr)
        return 0
    table = [("NAME", "KIND", "SECONDS", "LANG", "SOURCE", "TRANSCRIPT")]
    for r in rows:
        if "error" in r:
            table.append((r["name"], r["kind"], "?", "?", f"unreadable: {r['error']}", ""))
            continue
        text = r["transcript"] if len(r["transcript"]) <= 40 else r["transcript"][:39] + "…"
        table.append(
            (r["name"], r["kind"], f"{r['seconds']:.1f}", r["lang"] or "-", r["source"] or "-", text)
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
    print(f"{len(rows)} voices; your library: {library.root}", file=sys.stderr)
    return 0


def run_add(args: argparse.Namespace) -> int:
    from codec.release import load_codec
    from flowtts.audio import read_audio
    from flowtts.data.frames_store import codec_id
    from flowtts.errors import FlowTTSError
    from flowtts.release import ModelFiles
    from flowtts.training.loop import pick_device
    from flowtts.voices import VoiceLibrary, check_name, voice_from_audio

    name = check_name(args.name)
    library = _library_of(args)
    if name in library and not args.force:
        raise FlowTTSError(f"voice {name!r} already exists in {library.root} (use --force to replace it)")
    clip = Path(args.clip)
    if not clip.is_file():
        raise FlowTTSError(f"cannot read audio {clip}: no such file")
    root, installed = _model_root(args)
    if not installed:
        raise FlowTTSError("the default model is not installed in this flowtts; give --model DIR")
    files = ModelFiles(root)
    codec = load_codec(files.codec, device=pick_device(args.device))
    audio = read_audio(clip)
    metadata = {"source": clip.name, "codec": codec_id(files.codec)}
    if args.consent:
        metadata["consent"] = args.consent
    voice = voice_from_audio(
        codec, audio.samples, audio.sample_rate, name, args.transcript, args.lang or "", metadata=metadata
    )
    try:
        path = library.add(voice, overwrite=args.force)
    except OSError as e:
        raise FlowTTSError(f"cannot write to {library.root}: {e.strerror or e}") from e
    if name in VoiceLibrary(files.voices).names():
        print(
            f"flowtts: note: the model has a preset named {name!r}, which hides this voice", file=sys.stderr
        )
    lang = f", {voice.lang}" if voice.lang else ""
    print(f"added voice {name!r} ({voice.duration_s:.1f} s{lang}) to {path}", file=sys.stderr)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from flowtts.errors import FlowTTSError
    from flowtts.voices import check_name

    name = check_name(args.name)
    library = _library_of(args)
    if name not in library:
        raise FlowTTSError(f"no voice {name!r} in your library {library.root}")
    try:
        library.remove(name)
    except OSError as e:
        raise FlowTTSError(f"cannot remove {library.path(name)}: {e.strerror or e}") from e
    print(f"removed voice {name!r} from {library.root}", file=sys.stderr)
    return 0
