"""The fine-tuning loop: the TTS loss of ``TTSModel`` with only the adapter trainable (or every weight).

- Batches are the base training's (``flowtts.training.tts_data``): text + frames of a clip after a 3–6 s
  voice prompt cut from another clip of the speaker, so the adapted model is used as it is trained (the
  pack's reference prompt, then the text).
- Validation on the held-out clips every ``val_every`` steps with fixed batches, flow noise and prompt
  cuts, so the losses of two validations differ only by the weights; step 0 is the base model (an
  untrained adapter is the identity). Early stopping keeps the best validation step's weights
  (``work/best.safetensors``).
- Checkpoints (``work/checkpoints/step-N``, the newest kept) at every validation and when stopped; a rerun
  resumes from the newest. The global RNG is reseeded from (seed, step) before each step, so a resumed run
  makes the same steps an uninterrupted one would.
- SIGTERM / SIGINT (``StopFlag``): the current step finishes, a checkpoint is written, the run returns
  ``stopped_by = "interrupted"``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_save

from flowtts.adapters.lora import Adapter, AdapterSet
from flowtts.atomic import write_bytes_atomic
from flowtts.errors import FlowTTSError
from flowtts.finetune.callbacks import Callback
from flowtts.finetune.config import FinetuneConfig
from flowtts.finetune.data import FinetuneData
from flowtts.model.tts import IGNORE, TTSModel
from flowtts.text.tokenizer import Tokenizer
from flowtts.training.loop import (
    StopFlag,
    cosine_lr,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from flowtts.training.tts_data import DataConfig, TTSBatchSampler, TTSDataset

TRAIN_ADAPTER = "finetune"  # the name of the adapter in training in the model's AdapterSet
VALID_SEED = 1234


@dataclass
class TrainOutcome:
    step: int
    epochs: int
    stopped_by: str  # early_stopping | steps | epochs | interrupted
    best_step: int
    before: dict[str, float]  # validation metrics of the base model (step 0)
    after: dict[str, float]  # validation metrics at the best step
    history: list[dict] = field(default_factory=list)  # every validation
    seconds: float = 0.0  # training wall time, over all resumed parts
    trainable_parameters: int = 0
    adapter: Adapter | None = None  # LoRA: the best weights (still attached as TRAIN_ADAPTER)


def datasets(data: FinetuneData, tokenizer: Tokenizer, model: TTSModel, config: FinetuneConfig):
    """(train, valid) ``TTSDataset``s; clips whose sequence would not fit the model's positions (or one
    batch) are left out."""
    dc = DataConfig(batch_positions=config.batch_positions)
    levels = model.config.fsq_levels
    limit = min(model.config.backbone.max_positions, config.batch_positions)
    out = []
    for rows in (data.train, data.valid):
        ds = TTSDataset(rows, data.frames, tokenizer, levels, dc)
        keep = [e.row for i, e in enumerate(ds.examples) if ds.length(i) <= limit]
        if len(keep) < len(ds):
            ds = TTSDataset(keep, data.frames, tokenizer, levels, dc)
        out.append(ds)
    train, valid = out
    if len(train) == 0 or len(valid) == 0:
        raise FlowTTSError(
            "no clip fits the model's sequence length and --batch-positions; use shorter clips "
            "(--max-clip-seconds) or more batch positions"
        )
    return train, valid


@torch.no_grad()
def validation_metrics(
    model: TTSModel,
    data: TTSDataset,
    config: FinetuneConfig,
    device: torch.device,
    adapter: str | None,
) -> dict[str, float]:
    """Validation loss over every held-out clip, with fixed batches, prompt cuts and flow noise; the
    global RNG is left as it was."""
    adapters = AdapterSet.of(model)
    sampler = TTSBatchSampler(data, config.batch_positions, seed=VALID_SEED)
    sums = {"semantic": 0.0, "flow": 0.0, "accuracy": 0.0}
    weights = {"semantic": 0, "flow": 0}
    was_training = model.training
    model.eval()
    train_adapter = adapters.get(adapter) if adapter is not None else None
    if train_adapter is not None:
        train_adapter.eval()
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            for k, batch in enumerate(sampler.iterate(0, 0, model.config.end_id)):
                torch.manual_seed(VALID_SEED + k)
                batch = batch.to(device)
                with adapters.use(adapter):
                    loss = model(batch, config.flow_weight)
                n_sem = int((batch.target_semantic != IGNORE).sum())
                n_flow = int(
                    ((batch.target_semantic != IGNORE) & (batch.target_semantic != model.config.end_id)).sum()
                )
                sums["semantic"] += loss.semantic.item() * n_sem
                sums["accuracy"] += loss.semantic_accuracy.item() * n_sem
                sums["flow"] += loss.flow.item() * n_flow
                weights["semantic"] += n_sem
                weights["flow"] += n_flow
    finally:
        model.train(was_training)
        if train_adapter is not None:
            train_adapter.train(was_training)
    semantic = sums["semantic"] / max(1, weights["semantic"])
    flow = sums["flow"] / max(1, weights["flow"])
    return {
        "valid_loss": semantic + config.flow_weight * flow,
        "valid_semantic": semantic,
        "valid_flow": flow,
        "valid_accuracy": sums["accuracy"] / max(1, weights["semantic"]),
    }


def train(
    model: TTSModel,
    data: FinetuneData,
    tokenizer: Tokenizer,
    config: FinetuneConfig,
    work: Path,
    device: torch.device,
    run_id: dict,
    callbacks: list[Callback] = (),
    progress: bool = False,
) -> TrainOutcome:
    """Trains (or resumes) in ``work``; returns with the best weights loaded (LoRA: attached to the model
    as ``TRAIN_ADAPTER``; full: in the model). ``run_id`` (data fingerprint, base model) must equal the
    checkpoint's for a resume.

    Raises:
        FlowTTSError: a checkpoint from a different run (data, base model or settings).
    """
    train_data, valid_data = datasets(data, tokenizer, model, config)
    adapters = AdapterSet.of(model)
    torch.manual_seed(config.seed)
    if config.full:
        model.requires_grad_(True)
        trained: torch.nn.Module = model
        adapter_name = None
    else:
        model.requires_grad_(False)
        trained = Adapter.for_model(model, config.lora)
        adapters.add(TRAIN_ADAPTER, trained, replace=True)
        adapter_name = TRAIN_ADAPTER
    params = [p for p in trained.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(
        params, lr=config.learning_rate, betas=(0.9, 0.99), weight_decay=config.weight_decay
    )
    modules, optimizers = {"weights": trained}, {"optimizer": optim}

    state = {
        "step": 0,
        "epoch": 0,
        "position": 0,
        "best_step": 0,
        "best_loss": None,
        "bad": 0,
        "before": None,
        "history": [],
        "seconds": 0.0,
        "stopped_by": None,
    }
    ckpt = latest_checkpoint(work)
    if ckpt is not None:
        saved = json.loads((ckpt / "state.json").read_text())
        _check_resume(saved, config, run_id, work)
        state = load_checkpoint(ckpt, modules, optimizers, device)
    best_path = work / "best.safetensors"

    def save_best() -> None:
        weights = {k: v.detach().cpu().contiguous() for k, v in trained.state_dict().items()}
        write_bytes_atomic(best_path, safetensors_save(weights))

    def checkpoint() -> None:
        s = dict(state, config=config.to_dict(), run=run_id)
        save_checkpoint(work, state["step"], modules, optimizers, s, keep=1)

    total_lr = config.learning_rate
    t_start = time.monotonic()
    seconds_before = float(state["seconds"])
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(
            total=config.steps, initial=state["step"], unit="step", desc="finetune", dynamic_ncols=True
        )

    def say(line: str) -> None:
        if bar is not None:
            bar.write(line)

    def validate() -> bool:
        """Runs a validation; returns True when early stopping says stop."""
        metrics = {
            k: round(v, 5)
            for k, v in validation_metrics(model, valid_data, config, device, adapter_name).items()
        }
        loss = metrics["valid_loss"]
        step = state["step"]
        if state["before"] is None:
            state["before"] = dict(metrics)
        best = state["best_loss"]
        if best is None or loss < best * (1 - config.min_delta):
            state.update(best_loss=loss, best_step=step, bad=0)
            save_best()
        elif step > 0:
            state["bad"] += 1
        metrics["best_valid_loss"] = state["best_loss"]
        state["history"].append({"step": step, **metrics})
        say(
            f"step {step}: valid loss {loss:.4f} (semantic {metrics['valid_semantic']:.3f}, flow "
            f"{metrics['valid_flow']:.3f}); best {state['best_loss']:.4f} at step {state['best_step']}"
        )
        for cb in callbacks:
            cb.on_validation(step, dict(metrics))
        return state["bad"] >= config.patience

    sampler = TTSBatchSampler(train_data, config.batch_positions, seed=config.seed)
    end_id = model.config.end_id
    stopped_by = state["stopped_by"]
    if stopped_by in ("steps", "epochs") and not _limit_reached(state, config):
        stopped_by = None  # a finished run resumed with more --steps / --max-epochs trains on
    try:
        with StopFlag() as stop:
            if state["before"] is None:
                validate()
                checkpoint()
            done = stopped_by is not None or _limit_reached(state, config)
            if done and stopped_by is None:
                stopped_by = "steps" if state["step"] >= config.steps else "epochs"
            while not done:
                for batch in sampler.iterate(state["epoch"], state["position"], end_id):
                    step = state["step"]
                    lr = cosine_lr(
                        step, total_lr, total_lr * config.lr_min_ratio, config.warmup_steps, config.steps
                    )
                    for group in optim.param_groups:
                        group["lr"] = lr
                    torch.manual_seed(config.seed * 1_000_003 + step)  # flow noise, dropout: per step
                    trained.train()
                    model.train()
                    batch = batch.to(device)
                    with adapters.use(adapter_name):
                        loss = model(batch, config.flow_weight)
                        extra = [cb.extra_loss(model, batch, loss) for cb in callbacks]
                    extra = [e for e in extra if e is not None]
                    total = loss.total + sum(extra) if extra else loss.total
                    if not torch.isfinite(total):
                        raise FlowTTSError(
                            f"the training loss became {total.item()} at step {step}; lower --lr and use "
                            "--restart"
                        )
                    optim.zero_grad(set_to_none=True)
                    total.backward()
                    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, config.grad_clip))
                    optim.step()
                    state["step"], state["position"] = step + 1, state["position"] + 1
                    logs = {
                        "loss": loss.total.item(),
                        "semantic": loss.semantic.item(),
                        "flow": loss.flow.item(),
                        "accuracy": loss.semantic_accuracy.item(),
                        "extra": float(sum(e.item() for e in extra)),
                        "grad_norm": grad_norm,
                        "lr": lr,
                    }
                    for cb in callbacks:
                        cb.on_step(state["step"], logs)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{logs['loss']:.3f}", refresh=False)
                    if state["step"] % config.val_every == 0:
                        if validate():
                            stopped_by = "early_stopping"
                        state["seconds"] = seconds_before + time.monotonic() - t_start
                        checkpoint()
                    if stopped_by is None and state["step"] >= config.steps:
                        stopped_by = "steps"
                    if stop.requested and stopped_by is None:
                        stopped_by = "interrupted"
                    if stopped_by is not None:
                        break
                else:
                    state["epoch"], state["position"] = state["epoch"] + 1, 0
                    if config.max_epochs and state["epoch"] >= config.max_epochs:
                        stopped_by = "epochs"
                done = stopped_by is not None
            if stopped_by != "interrupted" and (
                not state["history"] or state["history"][-1]["step"] != state["step"]
            ):
                validate()  # the last steps since the last validation
            state["seconds"] = seconds_before + time.monotonic() - t_start
            if stopped_by != "interrupted":
                state["stopped_by"] = stopped_by
            checkpoint()
    finally:
        if bar is not None:
            bar.close()

    trained.load_state_dict(load_file(best_path, device=str(device)))
    trained.eval()
    model.eval()
    model.requires_grad_(False)
    after = next(h for h in state["history"] if h["step"] == state["best_step"])
    return TrainOutcome(
        step=state["step"],
        epochs=state["epoch"],
        stopped_by=stopped_by,
        best_step=state["best_step"],
        before={k: v for k, v in state["before"].items() if k.startswith("valid_")},
        after={k: v for k, v in after.items() if k.startswith("valid_") and k != "best_valid_loss"},
        history=state["history"],
        seconds=state["seconds"],
        trainable_parameters=sum(p.numel() for p in params),
        adapter=None if config.full else trained,
    )


def _limit_reached(state: dict, config: FinetuneConfig) -> bool:
    return state["step"] >= config.steps or bool(config.max_epochs and state["epoch"] >= config.max_epochs)


def _check_resume(saved: dict, config: FinetuneConfig, run_id: dict, work: Path) -> None:
    """A checkpoint resumes only the same run: same data, base model and (non-resumable) settings."""
    hint = "use --restart to start over"
    if saved.get("run") != run_id:
        raise FlowTTSError(f"{work} holds a fine-tune of other data or another base model; {hint}")
    try:
        before = FinetuneConfig.from_dict(saved["config"])
    except (KeyError, TypeError) as e:
        raise FlowTTSError(f"{work}: unreadable checkpoint settings ({e}); {hint}") from None
    changed = config.changed_for_resume(before)
    if changed:
        raise FlowTTSError(
            f"{work} holds a fine-tune with other settings ({', '.join(changed)}); use the same settings "
            f"to resume, or {hint}"
        )
