"""Run plumbing shared by every trainer (codec, TTS, fine-tuning): devices, torchrun/DDP, checkpoints,
stop signals and the JSONL log.

A checkpoint is a folder ``checkpoints/step-N/`` with ``*.safetensors`` (weights), ``*.pt`` (optimizer
state, loaded with ``weights_only=True``, never arbitrary pickle) and ``state.json``; it is written to
``step-N.tmp`` and renamed, so a crash never leaves a half checkpoint that resume would pick.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

from flowtts.errors import FlowTTSError


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> Dist:
    """Joins the process group when started by ``torchrun`` (WORLD_SIZE > 1); a single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def barrier(d: Dist) -> None:
    if d.world > 1:
        dist.barrier()


def any_rank(flag: bool, device: torch.device, d: Dist) -> bool:
    """True on every rank when ``flag`` is True on any rank (so all stop at the same step)."""
    if d.world == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise FlowTTSError("--device cuda: no CUDA device is available")
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise FlowTTSError(f"--device {name}: {e}") from None


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint folder (one with state.json), or None."""
    done = [
        p
        for p in (Path(out) / "checkpoints").glob("step-*")
        if not p.name.endswith(".tmp") and (p / "state.json").exists()
    ]
    return max(done, key=lambda p: int(p.name.split("-")[1])) if done else None


def save_checkpoint(
    out: Path,
    step: int,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    state: dict,
    keep: int,
) -> Path:
    """Writes ``checkpoints/step-N`` atomically and keeps the ``keep`` newest."""
    root = Path(out) / "checkpoints"
    final, tmp = root / f"step-{step:08d}", root / f"step-{step:08d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, module in modules.items():
        weights = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
        save_file(weights, tmp / f"{name}.safetensors")
    for name, optim in optimizers.items():
        torch.save(optim.state_dict(), tmp / f"{name}.pt")
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    done = sorted((p for p in root.glob("step-*") if not p.name.endswith(".tmp")), key=lambda p: p.name)
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(
    ckpt: Path,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    device: torch.device,
    new: tuple[str, ...] = (),
) -> dict:
    """Loads what ``save_checkpoint`` wrote into ``modules``/``optimizers``; returns ``state.json``.

    ``new``: state_dict key prefixes of parameters added since the checkpoint was saved (they keep their
    fresh values; the optimizers must not hold them yet). Any other missing or extra key is an error.
    """
    for name, module in modules.items():
        path = ckpt / f"{name}.safetensors"
        if path.exists():
            try:
                weights = load_file(path, device=str(device))
                missing, unexpected = module.load_state_dict(weights, strict=False)
            except (OSError, RuntimeError) as e:
                raise FlowTTSError(f"{path}: cannot load the checkpoint's weights ({e})") from e
            missing = [k for k in missing if not k.startswith(new)] if new else missing
            if missing or unexpected:
                raise FlowTTSError(
                    f"{path}: the checkpoint's weights do not match the model "
                    f"(missing {sorted(missing)}, unexpected {sorted(unexpected)})"
                )
    for name, optim in optimizers.items():
        path = ckpt / f"{name}.pt"
        if path.exists():
            try:
                optim.load_state_dict(torch.load(path, map_location=device, weights_only=True))
            except ValueError as e:
                raise FlowTTSError(f"{path}: the optimizer state does not match the model ({e})") from e
    return json.loads((ckpt / "state.json").read_text())


class StopFlag:
    """Installed for SIGTERM/SIGINT during a run: the loop finishes its step, checkpoints and exits."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict = {}

    def __call__(self, signum, frame) -> None:
        self.requested = True

    def __enter__(self) -> StopFlag:
        self._old = {s: signal.signal(s, self) for s in (signal.SIGTERM, signal.SIGINT)}
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


def cosine_lr(step: int, lr: float, lr_min: float, warmup: int, total: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay from ``lr`` to ``lr_min`` at ``total``."""
    return wsd_lr(step, lr, lr_min, warmup, total, decay=total)


def wsd_lr(step: int, lr: float, lr_min: float, warmup: int, total: int, decay: int) -> float:
    """Warm-up, stable, decay: linear warm-up over ``warmup`` steps, ``lr`` held until ``total - decay``,
    then cosine decay to ``lr_min`` at ``total``. A run trained at the stable rate can be forked at any
    checkpoint and decayed for a release, while the main run goes on at the stable rate."""
    if step < warmup:
        return lr * (step + 1) / warmup
    start = max(warmup, total - decay)
    if step < start:
        return lr
    progress = min(1.0, (step - start) / max(1, total - start))
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * progress))


def append_log(out: Path, row: dict) -> None:
    with open(Path(out) / "log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
