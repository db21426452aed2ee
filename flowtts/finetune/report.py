"""``REPORT.md`` of a voice pack: what went in (data, rejections), what was trained, the held-out losses
before and after, the audio samples. Rendered from the same dictionary as ``pack.json``."""

from __future__ import annotations

MAX_LISTED_REJECTIONS = 100


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def render_report(name: str, base: dict, info: dict) -> str:
    """Markdown for ``pack.json``'s ``info`` (see ``flowtts.finetune.api``)."""
    data, training, metrics = info["data"], info["training"], info["metrics"]
    voice = info["voice"]
    lines = [
        f"# Voice pack `{name}`",
        "",
        f"Made by `flowtts finetune` from `{data['input']}` ({info['lang']}) on base model `{base['name']}` "
        f"(weights {base['model_id']}). It works only with that base model.",
        "",
        f'Use it: `flowtts say --voice-pack PATH/TO/{name} "Some text." -o out.wav`, or in Python '
        f"`tts.synthesize(text, voice_pack=tts.load_voice_pack(path))`.",
        "",
        "## Data",
        "",
        _row("what", "value"),
        _row("---", "---"),
        _row("usable audio", f"{data['minutes_usable']:.2f} min in {data['clips_kept']} files"),
        _row("training", f"{data['minutes_train']:.2f} min in {data['train_clips']} clips"),
        _row("held out (validation)", f"{data['minutes_valid']:.2f} min in {data['valid_clips']} clips"),
        _row("files found", data["clips_found"]),
        _row(
            "rejected",
            f"{len(data['rejected'])}"
            + (
                ": " + ", ".join(f"{k} {n}" for k, n in data["rejected_by_reason"].items())
                if data["rejected"]
                else ""
            ),
        ),
        _row("reference prompt", f"`{voice['clip']}`, {voice['seconds']:.1f} s"),
        "",
    ]
    if data["rejected"]:
        lines += ["Rejected files:", ""]
        for r in data["rejected"][:MAX_LISTED_REJECTIONS]:
            detail = f" ({r['detail']})" if r.get("detail") else ""
            lines.append(f"- `{r['path']}`: {r['reason']}{detail}")
        more = len(data["rejected"]) - MAX_LISTED_REJECTIONS
        if more > 0:
            lines.append(f"- … and {more} more (pack.json lists every one)")
        lines.append("")
    cfg = training["config"]
    if training["mode"] == "lora":
        a = info["adapter"]
        what = (
            f"LoRA rank {a['rank']}, alpha {a['alpha']:g} on {', '.join(a['targets'])}: "
            f"{a['parameters']:,} parameters in {a['layers']} layers"
        )
    else:
        what = f"full fine-tuning: {training['trainable_parameters']:,} parameters"
    lines += [
        "## Training",
        "",
        _row("what", "value"),
        _row("---", "---"),
        _row("trained", what),
        _row(
            "steps", f"{training['steps']} ({training['epochs']} epochs), stopped by {training['stopped_by']}"
        ),
        _row("kept weights", f"step {training['best_step']} (best held-out loss)"),
        _row(
            "learning rate", f"{training['learning_rate']:g}, batches of {cfg['batch_positions']} positions"
        ),
        _row("wall time", f"{training['seconds'] / 60:.1f} min on {training['device']}"),
        "",
        "## Held-out loss (lower is better)",
        "",
        _row("metric", "base model, zero-shot from the reference", "this pack"),
        _row("---", "---", "---"),
    ]
    before, after = metrics["valid_before"], metrics["valid_after"]
    for key, label in (
        ("valid_loss", "total"),
        ("valid_semantic", "semantic cross-entropy"),
        ("valid_flow", "flow-matching MSE"),
        ("valid_accuracy", "semantic accuracy (higher is better)"),
    ):
        lines.append(_row(label, f"{before[key]:.4f}", f"{after[key]:.4f}"))
    lines.append("")
    if info["samples"]:
        lines += [
            "## Samples",
            "",
            _row("text", "before: zero-shot cloning from the reference", "after: this pack"),
            _row("---", "---", "---"),
        ]
        for s in info["samples"]:
            lines.append(_row(s["text"], f"[{s['before']}]({s['before']})", f"[{s['after']}]({s['after']})"))
        lines.append("")
    lines += [
        "Speaker similarity and word error rate against zero-shot cloning are measured by the evaluation "
        "suite (`evals/`), not here.",
        "",
    ]
    return "\n".join(lines)
