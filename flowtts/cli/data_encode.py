"""``flowtts data encode``: codec frames of every utterance of a corpus, for TTS training."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser(
        "encode",
        help="compute the codec frames of a corpus (for TTS training); resumable",
        description="Encode every utterance of a corpus with a codec into CORPUS/frames/<codec-id>/ "
        "(one safetensors file per manifest shard). Re-running resumes; `flowtts train tts` runs it itself.",
    )
    p.add_argument("dir", type=Path, help="corpus folder")
    p.add_argument("--codec", required=True, help="codec.safetensors or a model folder holding it")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from flowtts.data.frames_store import encode_corpus
    from flowtts.errors import FlowTTSError

    codec = Path(args.codec)
    if codec.is_dir():
        codec = codec / "codec.safetensors"
    if not codec.is_file():
        raise FlowTTSError(f"--codec {args.codec}: no codec file")
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(unit="shard", dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    out = encode_corpus(args.dir, codec, device=args.device, progress=progress)
    if bar is not None:
        bar.close()
    print(f"frames: {out}", file=sys.stderr)
    return 0
