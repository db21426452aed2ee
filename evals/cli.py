"""``flowtts eval``: benchmarks and judges, registered as a plugin of the ``flowtts`` command.

flowtts never names ``evals``: pyproject.toml lists this module under the entry-point group
``flowtts.commands`` and ``flowtts.cli.build_parser`` calls ``add_parser`` of every module in that group.
Heavy imports (torch, the codec, pocketsphinx) happen inside the ``run_*`` functions.
"""

from __future__ import annotations

import argparse
import sys

from flowtts.cli.finetune import add_targets_flag


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _at_least_two(text: str) -> int:
    value = _non_negative_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be >= 2, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _model_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default=None,
        help="model folder (config.json, model.safetensors, codec.safetensors, …; default: the embedded "
        "default model)",
    )


def _corpus_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", required=True, help="corpus folder (with manifests/) built by `flowtts data`")


def _sampling_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--steps", type=_positive_int, default=None, help="flow-matching ODE steps (default: the model's, 8)"
    )
    p.add_argument(
        "--cfg",
        type=_non_negative_float,
        default=None,
        help="classifier-free guidance strength α (default: the model's, 1.2)",
    )
    p.add_argument("--seed", type=_non_negative_int, default=0, help="random seed of generation (default: 0)")


def _out_flags(p: argparse.ArgumentParser, default_name: str) -> None:
    p.add_argument("--out", default="reports", help="folder for the report files (default: reports)")
    p.add_argument(
        "--name", default=None, help=f"report file name without extension (default: {default_name})"
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="benchmarks (codec, intelligibility, similarity, voice adaptation, speed, robustness) and "
        "listening tests (MUSHRA, win rate)",
        description="Evaluate models against the design targets and write JSON + Markdown reports; build, "
        "serve and analyze listening tests (mushra, winrate).",
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
    _corpus_flag(c)
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

    i = esub.add_parser(
        "intelligibility",
        help="TTS intelligibility: ASR WER of our speech vs the corpus recordings of the same sentences",
        description="Synthesize the held-out sentences of a corpus split spoken by seen voices, each voice "
        "cloned from another of its clips (train/valid, 3–25 s), and judge our audio and the corpus "
        "recording with the same recognizer (English: pocketsphinx, closed vocabulary over the evaluated "
        "sentences; other languages have no independent judge and report only a codec phoneme proxy). "
        "Target: WER ratio ours / corpus <= 1.2. Writes <out>/<name>.json and .md.",
    )
    _model_flag(i)
    _corpus_flag(i)
    i.add_argument(
        "--lang",
        default="en",
        help="language code to evaluate, or 'all' (default: en, the only language with an independent judge)",
    )
    i.add_argument(
        "--split",
        default="test",
        choices=("train", "valid", "test"),
        help="split of the sentences (default: test)",
    )
    i.add_argument(
        "--held-out-voices",
        action="store_true",
        help="evaluate held-out voices instead of seen voices (the target is stated for seen voices)",
    )
    i.add_argument(
        "--max-items",
        type=_non_negative_int,
        default=50,
        metavar="N",
        help="at most N sentences per language, voices taking turns; 0 = all (default: 50)",
    )
    i.add_argument("--no-proxy", action="store_true", help="skip the codec phoneme-head PER proxy")
    i.add_argument("--save-audio", default=None, metavar="DIR", help="also write our audio to DIR/<id>.wav")
    _sampling_flags(i)
    _out_flags(i, "intelligibility-<lang>-<split>")
    i.set_defaults(func=run_intelligibility)

    s = esub.add_parser(
        "similarity",
        help="voice cloning: speaker-encoder cosine of our speech vs two real clips of the voice",
        description="For seen and held-out voices of a corpus split: clone each voice from clip A, speak the "
        "text of clip A', and compare cosine(ours, real clip B) with cosine(real A', real B) under the "
        "resemblyzer speaker encoder. Target: ratio >= 0.9 for both groups. Writes <out>/<name>.json and "
        ".md.",
    )
    _model_flag(s)
    _corpus_flag(s)
    s.add_argument(
        "--split",
        default="test",
        choices=("train", "valid", "test"),
        help="split of clips A' and B (default: test)",
    )
    s.add_argument(
        "--max-voices",
        type=_non_negative_int,
        default=10,
        metavar="N",
        help="at most N voices per group (seen / held-out), languages taking turns; 0 = all (default: 10)",
    )
    s.add_argument(
        "--pairs",
        type=_positive_int,
        default=2,
        metavar="N",
        help="(A', B) clip pairs per voice, averaged (default: 2)",
    )
    s.add_argument("--langs", default=None, help="comma-separated languages to include (default: all)")
    s.add_argument("--save-audio", default=None, metavar="DIR", help="also write our audio to DIR")
    _sampling_flags(s)
    _out_flags(s, "similarity-<split>")
    s.set_defaults(func=run_similarity)

    b = esub.add_parser(
        "bench",
        help="speed: real-time factor, time to first audio, per-frame split (library, batch 1, 2 threads)",
        description="Time the Python library on CPU, batch 1: real-time factor of tts.synthesize on a ~10 s "
        "text (median), time to first audio of tts.stream (p50/p95, warm), backbone+flow vs codec time per "
        "frame, and the load average (timings on a busy machine are not comparable). With --server URL, also "
        "a running `flowtts serve` over real sockets: time to first audio over HTTP and WebSocket (p50/p95), "
        "a concurrency sweep (1, 4, 8, 16 streams; real-time playback without underrun) and cancel / "
        "disconnect latency; --server-only skips the library part (no model needed). Writes "
        "<out>/<name>.json and .md.",
    )
    _model_flag(b)
    b.add_argument("--voice", default=None, help="voice name (default: the model's first preset voice)")
    b.add_argument("--text", default=None, help="text to time (default: a fixed English text of about 10 s)")
    b.add_argument("--lang", default="en", help="language of the text (default: en)")
    b.add_argument(
        "--runs",
        type=_positive_int,
        default=5,
        metavar="N",
        help="timed synthesize runs for the RTF (default: 5)",
    )
    b.add_argument(
        "--ttfa-runs",
        type=_positive_int,
        default=20,
        metavar="N",
        help="stream calls for the time to first audio (default: 20)",
    )
    b.add_argument(
        "--threads",
        type=_positive_int,
        default=2,
        metavar="N",
        help="torch threads while timing (default: 2)",
    )
    b.add_argument(
        "--server",
        default=None,
        metavar="URL",
        help="also benchmark a running server, e.g. http://127.0.0.1:8000 (it should be otherwise idle)",
    )
    b.add_argument("--server-only", action="store_true", help="with --server: only the server benchmark")
    b.add_argument(
        "--api-key-file",
        default=None,
        metavar="FILE",
        help="with --server: the server's API key (first key of the file)",
    )
    b.add_argument(
        "--concurrency",
        default="1,4,8,16",
        metavar="N,N,…",
        help="with --server: stream counts of the sweep (default: 1,4,8,16)",
    )
    b.add_argument(
        "--transports",
        default="ws,http",
        metavar="T,T",
        help="with --server: sweep over ws and/or http (default: ws,http)",
    )
    _sampling_flags(b)
    _out_flags(b, "bench")
    b.set_defaults(func=run_bench)

    r = esub.add_parser(
        "robustness",
        help="hard inputs (one word, 1,000 characters, numbers, emoji, only punctuation, …) under a "
        "time limit",
        description="Run a fixed list of hard inputs through tts.synthesize, each under a wall-clock limit, "
        "and check that nothing hangs, runs past the length cap, ends early (< 0.25 frames per character), "
        "gives NaN or peaks above 1, and that inputs with nothing speakable fail with a clean error. "
        "Writes <out>/<name>.json and .md.",
    )
    _model_flag(r)
    r.add_argument("--voice", default=None, help="voice name (default: the model's first preset voice)")
    r.add_argument(
        "--timeout",
        type=_positive_float,
        default=120.0,
        metavar="S",
        help="wall-clock limit per input in seconds (default: 120)",
    )
    r.add_argument(
        "--only", default=None, metavar="NAMES", help="comma-separated input names to run (default: all)"
    )
    r.add_argument("--list", action="store_true", help="list the inputs and exit")
    _sampling_flags(r)
    _out_flags(r, "robustness")
    r.set_defaults(func=run_robustness)

    f = esub.add_parser(
        "finetune",
        help="voice adaptation (issue 7): fine-tune on minutes of a held-out voice vs zero-shot cloning "
        "from a 10 s clip (speaker cosine, WER ratio, pack size, wall time)",
        description="Choose a voice the model never saw (no train clips, no seen speaker group), split its "
        "clips into fine-tune data (at most --minutes), a ~10 s zero-shot reference taken from that data and "
        "held-out evaluation clips whose sentences are never trained on; fine-tune a LoRA voice pack "
        "(flowtts.finetune.adapt, timed); speak every evaluation sentence zero-shot from the reference and "
        "with the pack; judge both against the real held-out clips (resemblyzer cosine, pocketsphinx WER). "
        "Targets: cosine(pack) > cosine(zero-shot), WER pack / base <= 1.1, pack <= 5 MB. A voice with less "
        "audio than asked is used as it is and reported (verdict at best incomplete), unless "
        "--render-minutes renders more of it. Writes <out>/<name>.json and .md; the fine-tune data and the "
        "pack go to <work>/<name>/.",
    )
    _model_flag(f)
    _corpus_flag(f)
    f.add_argument(
        "--voice",
        default="auto",
        metavar="VOICE_ID",
        help="a held-out voice of the corpus, or auto: the first English held-out voice (by name) with "
        "enough audio, else the one with the most (default: auto)",
    )
    f.add_argument(
        "--minutes",
        type=_positive_float,
        default=10.0,
        metavar="M",
        help="at most M minutes of the voice's clips to fine-tune on (default: 10)",
    )
    f.add_argument(
        "--render-minutes",
        type=_non_negative_float,
        default=0.0,
        metavar="M",
        help="when the voice has less than --minutes of clips in the corpus, render up to M minutes more of "
        "exactly that voice (the corpus's engine, voice parameters and rendering path from its voices.json) "
        "on sentences of its language from the corpus's text cache that occur nowhere in the corpus; they "
        "join the fine-tune clips (evaluation clips stay the corpus's), are cached in <work>/<name>/rendered "
        "and the report gives corpus and rendered minutes apart; with --voice auto, prefers a voice whose "
        "engine is installed and fast and free (flite, espeak before MBROLA, Pico); 0 = off (default: 0)",
    )
    f.add_argument(
        "--text-cache",
        default=None,
        metavar="DIR",
        help="the text cache the corpus was built from, for --render-minutes (the --text-cache of `flowtts "
        "data synth`; default: $FLOWTTS_CACHE/text or ~/.cache/flowtts/text)",
    )
    f.add_argument(
        "--sentences",
        type=_at_least_two,
        default=20,
        metavar="N",
        help="held-out evaluation sentences (clips) of the voice, at most half its clips (default: 20)",
    )
    f.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="at most N fine-tune training steps (default: flowtts finetune's, 1000)",
    )
    f.add_argument(
        "--rank", "--lora-rank", type=_positive_int, default=None, metavar="R", help="LoRA rank (default: 16)"
    )
    f.add_argument(
        "--alpha", type=_positive_float, default=None, metavar="A", help="LoRA alpha (default: 32)"
    )
    add_targets_flag(f)
    f.add_argument(
        "--lr", type=_positive_float, default=None, help="peak learning rate (default: 1e-3 with LoRA)"
    )
    f.add_argument(
        "--batch-positions",
        type=_positive_int,
        default=None,
        metavar="N",
        help="padded sequence positions per fine-tune batch (default: 2000)",
    )
    f.add_argument(
        "--val-every",
        type=_positive_int,
        default=None,
        metavar="N",
        help="validate the fine-tune every N steps (default: 50)",
    )
    f.add_argument(
        "--patience",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop the fine-tune after N validations without improvement (default: 6)",
    )
    f.add_argument(
        "--max-epochs",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="at most N passes over the fine-tune clips; 0 = no limit (default: 0)",
    )
    f.add_argument(
        "--min-minutes",
        type=_non_negative_float,
        default=None,
        metavar="M",
        help="refuse to fine-tune on less usable audio than this (default: 0 here, the corpus decides; "
        "flowtts finetune's own default is 3)",
    )
    f.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="torch CPU threads for the fine-tune (default: torch's)",
    )
    f.add_argument(
        "--device", default="cpu", help="cpu, auto (CUDA when available), cuda or cuda:N (default: cpu)"
    )
    f.add_argument(
        "--ode-steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="flow-matching ODE steps of synthesis (default: the model's, 8)",
    )
    f.add_argument(
        "--cfg",
        type=_non_negative_float,
        default=None,
        help="classifier-free guidance strength α of synthesis (default: the model's, 1.2)",
    )
    f.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="seed of the fine-tune (split, initialisation, steps) and of synthesis (default: 0)",
    )
    f.add_argument(
        "--work",
        default="runs/eval-finetune",
        metavar="DIR",
        help="folder for the run: DIR/<name>/data (fine-tune clips) and DIR/<name>/<voice> (the voice "
        "pack); both are rewritten (default: runs/eval-finetune)",
    )
    f.add_argument(
        "--save-audio", default=None, metavar="DIR", help="also write the synthesized audio to DIR"
    )
    f.add_argument("--no-progress", action="store_true", help="do not draw progress bars")
    _out_flags(f, "finetune-<voice>")
    f.set_defaults(func=run_finetune)

    from evals.listening.cli import add_parsers as add_listening_parsers

    add_listening_parsers(esub)  # mushra, winrate: build | serve | analyze


def _report_name(name: str | None, default: str) -> str:
    from flowtts.errors import FlowTTSError

    name = name or default
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise FlowTTSError(f"--name {name!r}: give a plain file name without folders")
    return name


def _check_inputs(args: argparse.Namespace, corpus: bool) -> None:
    from pathlib import Path

    from flowtts.atomic import ensure_writable_dirs
    from flowtts.errors import FlowTTSError

    if corpus and not Path(args.corpus).is_dir():
        raise FlowTTSError(f"corpus folder {args.corpus} does not exist")
    if args.model is not None and not Path(args.model).is_dir():
        raise FlowTTSError(f"model folder {args.model} does not exist")
    ensure_writable_dirs([Path(args.out)], "the report folder")


def _finish(args: argparse.Namespace, name: str, report: dict, markdown: str) -> int:
    from evals.report import write_report

    json_path, md_path = write_report(args.out, name, report, markdown)
    for ch in report["checks"]:
        value = "not measured" if ch["value"] is None else f"{ch['value']:.3g}"
        result = {True: "pass", False: "FAIL", None: "-"}[ch["pass"]]
        print(f"{ch['label']:<60} {value:>14}  {ch['op']} {ch['target']:g}  {result}")
    print(f"verdict: {report['verdict']}")
    print(f"report: {json_path} {md_path}", file=sys.stderr)
    return 0


def run_intelligibility(args: argparse.Namespace) -> int:
    from evals.tts_eval import intelligibility, render_intelligibility

    _check_inputs(args, corpus=True)
    name = _report_name(args.name, f"intelligibility-{args.lang}-{args.split}")
    report = intelligibility(
        args.model,
        args.corpus,
        lang=args.lang,
        split=args.split,
        seen=not args.held_out_voices,
        max_items=args.max_items or None,
        steps=args.steps,
        cfg=args.cfg,
        seed=args.seed,
        phoneme_proxy=not args.no_proxy,
        save_audio=args.save_audio,
    )
    return _finish(args, name, report, render_intelligibility(report))


def run_similarity(args: argparse.Namespace) -> int:
    from evals.tts_eval import render_similarity, similarity

    _check_inputs(args, corpus=True)
    name = _report_name(args.name, f"similarity-{args.split}")
    langs = [x.strip() for x in args.langs.split(",") if x.strip()] if args.langs else None
    report = similarity(
        args.model,
        args.corpus,
        split=args.split,
        max_voices=args.max_voices or None,
        pairs_per_voice=args.pairs,
        langs=langs,
        steps=args.steps,
        cfg=args.cfg,
        seed=args.seed,
        save_audio=args.save_audio,
    )
    return _finish(args, name, report, render_similarity(report))


# flag -> FinetuneConfig field, for the fine-tune flags of `flowtts eval finetune`
_FINETUNE_SETTINGS = (
    "steps",
    "rank",
    "alpha",
    "lr",
    "batch_positions",
    "val_every",
    "patience",
    "max_epochs",
    "min_minutes",
    "threads",
)


def run_finetune(args: argparse.Namespace) -> int:
    from pathlib import Path

    from evals.finetune_eval import (
        add_rendered_clips,
        eval_config,
        finetune_eval,
        plan_finetune_eval,
        render_markdown,
    )
    from flowtts.atomic import ensure_writable_dirs
    from flowtts.cli.finetune import parse_targets

    _check_inputs(args, corpus=True)
    over = {k: getattr(args, k) for k in _FINETUNE_SETTINGS if getattr(args, k) is not None}
    if args.targets is not None:
        over["targets"] = parse_targets(args.targets)
    config = eval_config(args.seed, **over)  # bad values: one line, before any work
    plan = plan_finetune_eval(
        args.corpus, args.voice, args.minutes, args.sentences, render_minutes=args.render_minutes
    )
    name = _report_name(args.name, f"finetune-{plan.voice}")
    work = Path(args.work) / name
    ensure_writable_dirs([work], "--work")
    progress = not args.no_progress and sys.stderr.isatty()
    print(
        f"voice {plan.voice} ({plan.choice}): {plan.partition.minutes_selected:.2f} min to fine-tune on, "
        f"{len(plan.partition.evaluation)} evaluation sentences",
        file=sys.stderr,
        flush=True,
    )
    # more audio of the voice when --render-minutes asks for it (else the plan as it is)
    plan = add_rendered_clips(plan, work / "rendered", args.seed, args.text_cache, progress)
    part = plan.partition
    if part.rendered_for_eval:
        print(
            f"rendered for this eval: {part.seconds_rendered / 60:.2f} min used of "
            f"{part.render['minutes_rendered']:.2f} min rendered ({part.render['rendered_now']} new, "
            f"{part.render['from_cache']} from the cache); fine-tune: {part.minutes_selected:.2f} min "
            f"({part.seconds_from_corpus / 60:.2f} from the corpus)",
            file=sys.stderr,
            flush=True,
        )
    report = finetune_eval(
        args.model,
        args.corpus,
        work,
        config=config,
        plan=plan,
        steps=args.ode_steps,
        cfg=args.cfg,
        seed=args.seed,
        device=args.device,
        save_audio=args.save_audio,
        progress=progress,
        text_cache=args.text_cache,
    )
    return _finish(args, name, report, render_markdown(report))


def _server_options(args: argparse.Namespace) -> dict:
    from flowtts.errors import FlowTTSError

    try:
        levels = tuple(int(x) for x in args.concurrency.split(",") if x.strip())
    except ValueError:
        raise FlowTTSError(f"--concurrency {args.concurrency!r}: give numbers like 1,4,8,16") from None
    transports = tuple(x.strip() for x in args.transports.split(",") if x.strip())
    key = None
    if args.api_key_file:
        from pathlib import Path

        try:
            lines = Path(args.api_key_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise FlowTTSError(f"cannot read the API key file {args.api_key_file}: {e}") from None
        keys = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        if not keys:
            raise FlowTTSError(f"the API key file {args.api_key_file} has no keys")
        key = keys[0]
    return {"api_key": key, "runs": args.ttfa_runs, "concurrency": levels, "transports": transports}


def run_bench(args: argparse.Namespace) -> int:
    from evals.bench import BENCH_TEXT, benchmark, render_markdown, render_server_markdown, server_benchmark
    from flowtts.errors import FlowTTSError

    if args.server_only and not args.server:
        raise FlowTTSError("--server-only needs --server URL")
    if args.server_only:
        from pathlib import Path

        from flowtts.atomic import ensure_writable_dirs

        ensure_writable_dirs([Path(args.out)], "the report folder")
        name = _report_name(args.name, "bench-server")
        report = server_benchmark(args.server, voice=args.voice, **_server_options(args))
        return _finish(args, name, report, render_server_markdown(report))
    _check_inputs(args, corpus=False)
    name = _report_name(args.name, "bench")
    report = benchmark(
        args.model,
        text=args.text if args.text is not None else BENCH_TEXT,
        voice=args.voice,
        lang=args.lang,
        runs=args.runs,
        ttfa_runs=args.ttfa_runs,
        threads=args.threads,
        steps=args.steps,
        cfg=args.cfg,
        seed=args.seed,
        server_url=args.server,
        server_options=_server_options(args) if args.server else None,
    )
    return _finish(args, name, report, render_markdown(report))


def run_robustness(args: argparse.Namespace) -> int:
    from evals.robustness import HARD_INPUTS, render_markdown, robustness
    from flowtts.errors import FlowTTSError

    if args.list:
        for case in HARD_INPUTS:
            kind = "speakable" if case.speakable else "must be refused"
            print(f"{case.name:<24} {len(case.text):>5} chars  {kind:<16} {case.description}")
        return 0
    cases = list(HARD_INPUTS)
    if args.only:
        wanted = [x.strip() for x in args.only.split(",") if x.strip()]
        known = {c.name for c in HARD_INPUTS}
        unknown = [w for w in wanted if w not in known]
        if unknown or not wanted:
            raise FlowTTSError(
                f"--only: unknown input {', '.join(unknown) or '(none given)'} "
                f"(known: {', '.join(sorted(known))})"
            )
        cases = [c for c in HARD_INPUTS if c.name in wanted]
    _check_inputs(args, corpus=False)
    name = _report_name(args.name, "robustness")
    report = robustness(
        args.model,
        cases=cases,
        timeout_s=args.timeout,
        voice=args.voice,
        steps=args.steps,
        cfg=args.cfg,
        seed=args.seed,
    )
    return _finish(args, name, report, render_markdown(report))


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
