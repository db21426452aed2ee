"""The TTS training loop behind ``flowtts train tts``: one process or many under ``torchrun`` (DDP).

Inputs: a corpus, a trained codec and a tokenizer. The corpus's codec frames are computed once
(``<corpus>/frames/<codec-id>/``, resumable) before the first step. The run folder gets the same
layout as the codec's (config.json, log.jsonl, checkpoints/, samples/) plus ``model/``: a complete model
folder (config.json, model.safetensors, codec.safetensors, tokenizer.model, voices/) refreshed at each
validation, which ``flowtts.load`` and ``flowtts say --model`` read directly.

Text CTC (``ctc_weight`` > 0) turns on the model's training-only text-CTC head (``TTSConfig.text_ctc``).
A run trained without it can be resumed with it: the head starts fresh, every other weight and the optimizer
state of every other parameter come from the checkpoint (``load_checkpoint(..., new=...)``), the head gets
new optimizer groups with a fresh state. The other way round the head stays (the architecture of a run
does not change back), untrained, and the trainer says so.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from flowtts.data.frames_store import codec_id, encode_corpus, load_frames
from flowtts.data.manifest import iter_corpus
from flowtts.errors import FlowTTSError
from flowtts.model.tts import TEXT_CTC_HEAD, TTSModel
from flowtts.text.tokenizer import Tokenizer
from flowtts.training.loop import (
    StopFlag,
    any_rank,
    append_log,
    barrier,
    init_distributed,
    latest_checkpoint,
    load_checkpoint,
    pick_device,
    save_checkpoint,
    wsd_lr,
)
from flowtts.training.tts_config import TTSTrainConfig
from flowtts.training.tts_data import TTSBatchSampler, TTSDataset

if TYPE_CHECKING:
    from flowtts.text.phonemes import PhonemeTokenizer


@dataclass(frozen=True)
class TTSTrainResult:
    step: int
    out: Path
    stopped_early: bool


def lr_at(config: TTSTrainConfig, step: int) -> float:
    decay = config.decay_steps or config.steps  # 0: decay over the whole run (cosine_lr)
    return wsd_lr(step, config.lr, config.lr_min, config.warmup_steps, config.steps, decay)


def _param_groups(named: list[tuple[str, torch.nn.Parameter]], config: TTSTrainConfig) -> list[dict]:
    """Weight decay on the matrices except the embedding tables; none on the rest."""
    decay = [p for n, p in named if p.dim() >= 2 and "embedding" not in n]
    rest = [p for n, p in named if not (p.dim() >= 2 and "embedding" not in n)]
    return [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]


def _optimizer(model: TTSModel, config: TTSTrainConfig, text_ctc_head: bool = True) -> torch.optim.Optimizer:
    """AdamW with the groups [decay, rest] of every parameter but the text-CTC head's, then, when the model
    has that head (and ``text_ctc_head``), its own [decay, rest]: the first two groups are the same with or
    without the head, so an optimizer state saved before the head existed loads into them."""
    named = [(n, p) for n, p in model.named_parameters() if not n.startswith(TEXT_CTC_HEAD)]
    optim = torch.optim.AdamW(_param_groups(named, config), lr=config.lr, betas=config.betas)
    if text_ctc_head:
        _add_text_ctc_head_groups(optim, model, config)
    return optim


def _add_text_ctc_head_groups(optim: torch.optim.Optimizer, model: TTSModel, config: TTSTrainConfig) -> None:
    if model.text_ctc_head is not None:
        for group in _param_groups(list(model.text_ctc_head.named_parameters()), config):
            optim.add_param_group(group)


def train_tts(
    config: TTSTrainConfig,
    corpus: str | os.PathLike,
    codec_path: str | os.PathLike,
    tokenizer_path: str | os.PathLike,
    out: str | os.PathLike,
    device: str = "auto",
    max_minutes: float | None = None,
    progress: bool = True,
    init: str | os.PathLike | None = None,
) -> TTSTrainResult:
    """Trains (or resumes) a TTS run in ``out``; ``init``: a model.safetensors (of a checkpoint or a model
    folder) a new run starts from (``init_weights``)."""
    from codec.release import load_codec
    from flowtts.release import write_model_dir

    out = Path(out)
    if not config.ctc_weight >= 0:
        raise FlowTTSError(f"ctc_weight {config.ctc_weight}: must be 0 (off) or more")
    dev = pick_device(device)
    d = init_distributed(dev)
    if dev.type == "cuda":
        dev = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(dev)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed + d.rank)
    started = time.monotonic()

    tokenizer = Tokenizer.load(tokenizer_path)
    rows = list(iter_corpus(corpus))
    phonemes_path = out / PHONEMES_FILE if config.model.text_frontend == "phonemes" else None
    if phonemes_path is not None:
        tokenizer = _phoneme_tokenizer(tokenizer, phonemes_path, rows, d)
        if config.ctc_weight > 0 and d.main:
            print(
                f"{out}: ctc_weight {config.ctc_weight} with phonemes: an utterance has more phone units "
                "than 80 ms frames, so most text-CTC targets have no path and add nothing (measured: loss "
                "0.02); set ctc_weight = 0",
                file=sys.stderr,
            )
    codec = load_codec(codec_path)
    model_config = replace(
        config.model,
        text_vocab_size=tokenizer.vocab_size,
        codebook_size=codec.config.vq.codebook_size,
        acoustic_dim=codec.config.fsq.dim,
        fsq_levels=codec.config.fsq.levels,
        # inference cuts voice clips to the longest prompt seen in training
        sampling=replace(config.model.sampling, max_prompt_frames=config.data.prompt_frames[1]),
        text_ctc=config.model.text_ctc or config.ctc_weight > 0,
    )
    config = replace(config, model=model_config)
    frames_id = codec_id(codec_path)
    ckpt = latest_checkpoint(out)
    state: dict = {"step": 0, "epoch": 0, "position": 0}
    adding_text_ctc_head = False
    if ckpt is not None:
        saved_state = json.loads((ckpt / "state.json").read_text())
        saved = TTSTrainConfig.from_dict(saved_state["config"])
        # everything but sampling and text_ctc: backbone, flow head, and the sizes that come from the codec
        # and tokenizer. text_ctc may go from off to on (the head is added); never back: the head stays.
        if (
            replace(saved.model, sampling=config.model.sampling, text_ctc=config.model.text_ctc)
            != config.model
        ):
            raise FlowTTSError(
                f"{out}: the checkpoint's architecture differs from the config (or from the codec's or "
                "tokenizer's sizes); use a new --out"
            )
        if saved_state.get("codec_id", frames_id) != frames_id:
            raise FlowTTSError(
                f"{out}: the checkpoint was trained on the frames of another codec "
                f"({saved_state['codec_id']}, this one makes {frames_id}); use a new --out"
            )
        adding_text_ctc_head = config.model.text_ctc and not saved.model.text_ctc
        config = replace(
            config, model=replace(saved.model, text_ctc=saved.model.text_ctc or config.model.text_ctc)
        )

    frames_dir = Path(corpus) / "frames" / frames_id
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        encode_corpus(corpus, codec_path, device=str(dev))  # resumable: finished shards are skipped
    barrier(d)
    frames = load_frames(frames_dir)
    train_rows = [r for r in rows if r.split == "train"]
    valid_rows = [r for r in rows if r.split == "valid"]
    train_data = TTSDataset(train_rows, frames, tokenizer, config.model.fsq_levels, config.data)
    valid_data = TTSDataset(valid_rows, frames, tokenizer, config.model.fsq_levels, config.data)
    if len(train_data) == 0:
        raise FlowTTSError(f"{corpus}: no training utterances with frames")
    if d.main and ckpt is None:
        from flowtts.atomic import write_text_atomic

        write_text_atomic(out / "config.json", config.dumps() + "\n")

    model = TTSModel(config.model).to(dev)
    # a head added on resume gets its optimizer groups after the checkpoint's state is loaded
    optim = _optimizer(model, config, text_ctc_head=not adding_text_ctc_head)
    if ckpt is not None:
        new = (TEXT_CTC_HEAD,) if adding_text_ctc_head else ()
        state = load_checkpoint(ckpt, {"model": model}, {"optimizer": optim}, dev, new=new)
    elif init is not None:
        init_weights(model, init)
        if d.main:
            print(f"{out}: weights initialised from {init}", file=sys.stderr)
    if adding_text_ctc_head:
        _add_text_ctc_head_groups(optim, model, config)
        if d.main:
            print(
                f"{out}: ctc_weight {config.ctc_weight}: the checkpoint has no text-CTC head; a new one is "
                "added (fresh weights and optimizer state; every other weight and state is resumed)",
                file=sys.stderr,
            )
    if model.text_ctc_head is not None and config.ctc_weight == 0:
        model.text_ctc_head.requires_grad_(False)  # frozen: and DDP waits for no gradient of it
        if d.main:
            print(
                f"{out}: the model has a text-CTC head but ctc_weight is 0: the head is kept, not trained",
                file=sys.stderr,
            )
    modules, optimizers = {"model": model}, {"optimizer": optim}
    ddp_model = model
    if d.world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    sampler = TTSBatchSampler(train_data, config.data.batch_positions, config.seed, d.rank, d.world)
    step, epoch, position = state["step"], state["epoch"], state["position"]
    bar = None
    if d.main and progress:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=step, unit="step", dynamic_ncols=True)
    last_ckpt = time.monotonic()
    meter: dict[str, float] = {}
    t_log = time.monotonic()
    stopped_early = False

    def checkpoint() -> None:
        nonlocal last_ckpt
        if d.main:
            s = {
                "step": step,
                "epoch": epoch,
                "position": position,
                "codec_id": frames_id,
                "config": config.to_dict(),
            }
            save_checkpoint(out, step, modules, optimizers, s, config.keep_checkpoints)
        last_ckpt = time.monotonic()

    validated_at = -1

    def validate() -> None:
        nonlocal validated_at
        if validated_at == step:
            return
        validated_at = step
        metrics = _validation_loss(model, valid_data, config, dev)
        metrics["step"] = step
        append_log(out, {"kind": "valid", **metrics})
        write_model_dir(
            out / "model",
            model,
            codec_path,
            tokenizer_path,
            extra={"step": str(step)},
            phonemes_path=phonemes_path,
        )
        _write_samples(
            out / "model", valid_data, out / "samples" / f"step-{step:08d}", config.val_samples, dev
        )
        if bar is not None:
            bar.write(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k != "step"))
        model.train()

    with StopFlag() as stop:
        try:
            done = step >= config.steps
            while not done:
                for batch in sampler.iterate(epoch, position, config.model.end_id):
                    lr = lr_at(config, step)
                    for group in optim.param_groups:
                        group["lr"] = lr
                    model.train()
                    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=config.bf16):
                        loss = ddp_model(
                            batch.to(dev), config.flow_weight, config.ctc_weight, config.guided_attention
                        )
                    optim.zero_grad(set_to_none=True)
                    loss.total.backward()
                    grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip))
                    optim.step()
                    step, position = step + 1, position + 1
                    logs = {
                        "loss": loss.total.item(),
                        "semantic": loss.semantic.item(),
                        "flow": loss.flow.item(),
                        "accuracy": loss.semantic_accuracy.item(),
                        "end_accuracy": loss.end_accuracy.item(),
                        "text_ctc": loss.text_ctc.item(),
                        "guided": loss.guided.item(),
                        "grad_norm": grad_norm,
                        "lr": lr,
                    }
                    for k, v in logs.items():
                        meter[k] = meter.get(k, 0.0) + v
                    meter["n"] = meter.get("n", 0) + 1
                    if bar is not None:
                        bar.update(1)
                        extra = {"ctc": f"{logs['text_ctc']:.3f}"} if config.ctc_weight > 0 else {}
                        if config.guided_attention.weight > 0:
                            extra["guided"] = f"{logs['guided']:.3f}"
                        bar.set_postfix(
                            sem=f"{logs['semantic']:.3f}", flow=f"{logs['flow']:.3f}", **extra, refresh=False
                        )
                    if d.main and step % config.log_every == 0:
                        n = meter.pop("n")
                        row = {k: round(v / n, 5) for k, v in meter.items()}
                        row.update(step=step, sec_per_step=round((time.monotonic() - t_log) / n, 3))
                        append_log(out, {"kind": "train", **row})
                        meter, t_log = {}, time.monotonic()
                    if d.main and step % config.val_every == 0:
                        validate()
                    timed_out = max_minutes is not None and (time.monotonic() - started) / 60 >= max_minutes
                    if any_rank(stop.requested or timed_out, dev, d):
                        stopped_early, done = True, True
                        break
                    if time.monotonic() - last_ckpt >= config.checkpoint_minutes * 60:
                        checkpoint()
                    if step >= config.steps:
                        done = True
                        break
                else:
                    epoch, position = epoch + 1, 0
            checkpoint()
            if d.main and (not (out / "model" / "model.safetensors").exists() or not stopped_early):
                validate()
        finally:
            if bar is not None:
                bar.close()
    return TTSTrainResult(step=step, out=out, stopped_early=stopped_early)


PHONEMES_FILE = "phonemes.json"  # a phoneme run's inventory, in the run folder and in its model folders


def _phoneme_tokenizer(tokenizer: Tokenizer, path: Path, rows: list, d) -> PhonemeTokenizer:
    """The run's phoneme tokenizer: its saved inventory, or (a new run) one built from the train split's
    texts and saved first, so that a resumed run reads the same ids."""
    from flowtts.text.phonemes import PhonemeInventory, PhonemeTokenizer

    if d.main and not path.exists():
        train = [(r.lang, r.normalized_text) for r in rows if r.split == "train"]
        path.parent.mkdir(parents=True, exist_ok=True)
        PhonemeInventory.build(train, offset=tokenizer.vocab_size).save(path)
    barrier(d)
    return PhonemeTokenizer(tokenizer, PhonemeInventory.load(path))


@torch.no_grad()
def init_weights(model: TTSModel, path: str | os.PathLike) -> None:
    """Copies the weights of ``path`` (a model.safetensors) into ``model``: every tensor of the same name and
    shape; the text embedding and the text-CTC head keep the rows both text vocabularies share (ids below the
    smaller size; the CTC blank, the head's last row, stays the last), so a run can move to another text
    frontend (pieces to phonemes) keeping everything else. Tensors only one side has stay as they are."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        source = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise FlowTTSError(f"--init {path}: cannot read weights ({e})") from None
    for name, own in model.state_dict().items():
        if name not in source:
            continue
        w = source[name].to(own.dtype)
        if w.shape == own.shape:
            own.copy_(w)
        elif name == "text_embedding.weight" and w.shape[1:] == own.shape[1:]:
            n = min(w.shape[0], own.shape[0])
            own[:n] = w[:n]
        elif name.startswith(TEXT_CTC_HEAD) and w.shape[1:] == own.shape[1:]:
            n = min(w.shape[0], own.shape[0]) - 1  # text rows both have; then the blank
            own[:n] = w[:n]
            own[-1] = w[-1]
        else:
            raise FlowTTSError(
                f"--init {path}: {name} is {tuple(w.shape)} there, {tuple(own.shape)} in this model's config"
            )


@torch.no_grad()
def _validation_loss(model: TTSModel, data: TTSDataset, config: TTSTrainConfig, dev: torch.device) -> dict:
    """The validation loss with fixed batches and flow noise; the global RNG is left as it was (training's
    flow noise and condition dropout go on from where they were, not from a seed reset at each validation)."""
    model.eval()
    sampler = TTSBatchSampler(data, config.data.batch_positions, seed=1234)
    sums: dict[str, float] = {}
    n = 0
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        for k, batch in enumerate(sampler.iterate(0, 0, config.model.end_id)):
            if k >= 8:
                break
            torch.manual_seed(k)  # the same flow noise and times at every validation
            loss = model(batch.to(dev), config.flow_weight, config.ctc_weight, config.guided_attention)
            for name in ("semantic", "flow", "semantic_accuracy", "end_accuracy", "text_ctc", "guided"):
                sums[name] = sums.get(name, 0.0) + getattr(loss, name).item()
            n += 1
    return {f"valid_{k}": v / max(1, n) for k, v in sums.items()}


def _write_samples(model_dir: Path, data: TTSDataset, out: Path, count: int, dev: torch.device) -> None:
    """Synthesises the first ``count`` validation sentences with their own voice prompts to ``out``."""
    from flowtts.api import load

    tts = load(model_dir, device=str(dev))
    rng = random.Random(0)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(min(count, len(data))):
        e = data.examples[i]
        seg, _ = data.sequence(i, rng)
        prompt_len = int(seg.is_frame[: seg.length - len(e.frames.semantic)].sum())
        voice = tts.voice_from_frames(
            seg.semantic[2 : 2 + prompt_len], seg.acoustic[2 : 2 + prompt_len], name=e.row.voice
        )
        audio = tts.synthesize(e.row.normalized_text, voice=voice, lang=e.row.lang, seed=0)
        from flowtts.audio import write_audio_atomic

        write_audio_atomic(out / f"{e.row.id}.wav", np.asarray(audio.samples), audio.sample_rate)
