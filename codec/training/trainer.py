"""The codec training loop behind ``flowtts train codec``: one process, or many under ``torchrun`` (DDP).

Run folder layout (``--out``):

    config.json              the full training config of this run (written once)
    log.jsonl                one line per log interval and per validation
    checkpoints/step-N/      model.safetensors, optimizer.pt (+ discriminator), state.json — resume points
    codec.safetensors        the latest validated weights as a release file (what ``load_codec`` reads)
    codec-latest.safetensors the weights at the end of the last run, not validated
    samples/step-N/*.wav     validation resyntheses next to their originals

Resume is automatic: a run folder with checkpoints continues from the newest complete one, at the same
position in the same epoch. Checkpoints are written to a temporary folder and renamed (atomic), every
``checkpoint_minutes``, at the end, on SIGTERM/SIGINT and when ``--max-minutes`` runs out.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from codec.model import Codec
from codec.phonemes import build_inventory, ipa_to_phones
from codec.release import load_codec, save_codec
from codec.training.config import CodecTrainConfig
from codec.training.dataset import Batch, BatchSampler, CorpusAudio
from codec.training.losses import SpectralLoss
from flowtts.atomic import write_text_atomic
from flowtts.errors import FlowTTSError
from flowtts.training.loop import (
    StopFlag,
    any_rank,
    append_log,
    barrier,
    cosine_lr,
    init_distributed,
    latest_checkpoint,
    load_checkpoint,
    pick_device,
    save_checkpoint,
)


@dataclass(frozen=True)
class TrainResult:
    step: int
    out: Path
    stopped_early: bool  # True when --max-minutes or a signal ended the run before `steps`


def lr_at(config: CodecTrainConfig, step: int) -> float:
    return cosine_lr(step, config.lr, config.lr_min, config.warmup_steps, config.steps)


def train(
    config: CodecTrainConfig,
    corpus: str | os.PathLike,
    out: str | os.PathLike,
    device: str = "auto",
    max_minutes: float | None = None,
    progress: bool = True,
    init: str | os.PathLike | None = None,
) -> TrainResult:
    """Trains (or resumes) a codec run in ``out``; ``init``: a codec file whose weights start a new run."""
    out = Path(out)
    dev = pick_device(device)
    d = init_distributed(dev)
    if dev.type == "cuda":
        dev = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(dev)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed + d.rank)
    started = time.monotonic()

    ckpt = latest_checkpoint(out)
    state: dict = {"step": 0, "epoch": 0, "position": 0}
    if ckpt is not None:
        state = json.loads((ckpt / "state.json").read_text())
        saved = CodecTrainConfig.from_dict(state["config"])
        # the architecture (and phone inventory) come from the checkpoint; the schedule from the config file
        config = replace(config, codec=saved.codec)
    init_codec = None
    if ckpt is None and init is not None:
        init_codec = load_codec(init)
        config = replace(config, codec=init_codec.config)
    if config.freeze_frames and ckpt is None and init_codec is None:
        raise FlowTTSError("freeze_frames = true needs --init CODEC (the codec whose frames to keep)")

    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        train_audio = CorpusAudio(corpus, ("train",))
        valid_audio = CorpusAudio(corpus, ("valid",))
    barrier(d)
    if not d.main:
        train_audio = CorpusAudio(corpus, ("train",))
        valid_audio = CorpusAudio(corpus, ("valid",))
    if not config.codec.phonemes:
        inventory = build_inventory(
            (i.phonemes for i in train_audio.items if i.phonemes), config.min_phone_count
        )
        config = replace(config, codec=replace(config.codec, phonemes=inventory))
    if d.main and ckpt is None:
        write_text_atomic(out / "config.json", config.dumps() + "\n")

    model = Codec(config.codec)
    if init_codec is not None:
        missing, unexpected = model.load_state_dict(init_codec.state_dict(), strict=False)
        if unexpected or not all(m.endswith("unused_updates") for m in missing):
            bad = missing[:3] + unexpected[:3]
            raise FlowTTSError(f"--init {init}: weights do not fit its config ({bad})")
    if config.freeze_frames:
        model.freeze_frames()
    model = model.to(dev).train()
    optim = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.lr,
        betas=config.betas,
        weight_decay=config.weight_decay,
    )
    disc = disc_optim = None
    adv = config.adversarial
    if adv.start_step >= 0:
        from vocos.discriminators import MultiResolutionDiscriminator

        disc = MultiResolutionDiscriminator(fft_sizes=tuple(adv.fft_sizes)).to(dev)
        disc_optim = torch.optim.AdamW(disc.parameters(), lr=adv.lr, betas=config.betas)
    modules = {"model": model} | ({"disc": disc} if disc is not None else {})
    optimizers = {"optimizer": optim} | ({"disc_optimizer": disc_optim} if disc_optim is not None else {})
    if ckpt is not None:
        load_checkpoint(ckpt, modules, optimizers, dev)
    ddp_model = model
    if d.world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None, broadcast_buffers=False
        )
        if disc is not None:
            disc = torch.nn.parallel.DistributedDataParallel(
                disc, device_ids=[dev.index] if dev.type == "cuda" else None
            )

    spectral_loss = SpectralLoss().to(dev)
    sampler = BatchSampler(
        train_audio,
        config.codec.phonemes,
        config.batch_seconds,
        config.max_item_seconds,
        config.seed,
        d.rank,
        d.world,
    )
    validator = Validator(valid_audio, config, out) if d.main else None

    bar = None
    if d.main and progress:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=state["step"], unit="step", dynamic_ncols=True)
    last_ckpt = time.monotonic()
    step, epoch, position = state["step"], state["epoch"], state["position"]
    meter: dict[str, float] = {}
    t_log = time.monotonic()
    stopped_early = False

    def checkpoint() -> None:
        nonlocal last_ckpt
        if d.main:
            state = {"step": step, "epoch": epoch, "position": position, "config": config.to_dict()}
            save_checkpoint(out, step, modules, optimizers, state, config.keep_checkpoints)
        last_ckpt = time.monotonic()

    with StopFlag() as stop:
        try:
            while step < config.steps:
                for batch in sampler.iterate(epoch, position):
                    if step >= config.steps:
                        break
                    lr = lr_at(config, step)
                    for group in optim.param_groups:
                        group["lr"] = lr
                    logs = _train_step(
                        ddp_model, model, disc, optim, disc_optim, batch, config, spectral_loss, step, dev
                    )
                    step += 1
                    position += 1
                    logs["lr"] = lr
                    for k, v in logs.items():
                        meter[k] = meter.get(k, 0.0) + v
                    meter["n"] = meter.get("n", 0) + 1
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(
                            mel=f"{logs['mel']:.3f}", ctc=f"{logs.get('ctc', 0):.2f}", refresh=False
                        )
                    if d.main and step % config.log_every == 0:
                        n = meter.pop("n")
                        row = {k: round(v / n, 5) for k, v in meter.items()}
                        row.update(step=step, sec_per_step=round((time.monotonic() - t_log) / n, 3))
                        append_log(out, {"kind": "train", **row})
                        meter, t_log = {}, time.monotonic()
                    if validator is not None and step % config.val_every == 0:
                        metrics = validator.run(model, step)
                        append_log(out, {"kind": "valid", "step": step, **metrics})
                        save_codec(
                            model,
                            out / "codec.safetensors",
                            {"step": str(step), "valid": json.dumps(metrics)},
                        )
                        if bar is not None:
                            bar.write(
                                f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items())
                            )
                        model.train()
                    timed_out = max_minutes is not None and (time.monotonic() - started) / 60 >= max_minutes
                    if any_rank(stop.requested or timed_out, dev, d):
                        stopped_early = True
                        break
                    if time.monotonic() - last_ckpt >= config.checkpoint_minutes * 60:
                        checkpoint()
                else:
                    epoch, position = epoch + 1, 0
                    continue
                break
            checkpoint()
            if d.main:  # the newest weights as a release file too (codec.safetensors: the newest validated)
                save_codec(model, out / "codec-latest.safetensors", {"step": str(step)})
        finally:
            if bar is not None:
                bar.close()
    if d.main and not (out / "codec.safetensors").exists():
        save_codec(model, out / "codec.safetensors", {"step": str(step)})
    return TrainResult(step=step, out=out, stopped_early=stopped_early)


def _train_step(
    ddp_model,
    model: Codec,
    disc,
    optim,
    disc_optim,
    batch: Batch,
    config: CodecTrainConfig,
    spectral_loss: SpectralLoss,
    step: int,
    dev: torch.device,
) -> dict[str, float]:
    model.train()
    audio = batch.audio.to(dev)  # [B, S]
    mask = batch.sample_mask.to(dev)  # [B, S]
    out = ddp_model(audio, batch.frame_mask.to(dev), config.dropout)
    pred = out.audio * mask  # the decoder's output on padding is not judged
    logs: dict[str, float] = {}
    spec = spectral_loss(pred, audio)
    mel, stft = spec.mel, spec.stft
    loss = (
        config.mel_weight * mel
        + config.stft_weight * stft
        + config.codec.vq.commitment * out.semantic.commitment_loss
    )
    logs.update(
        mel=mel.item(),
        stft=stft.item(),
        commit=out.semantic.commitment_loss.item(),
        perplexity=out.semantic.perplexity.item(),
    )
    if out.phoneme_logprobs is not None and bool(batch.ctc_mask.any()):
        up = model.config.phoneme_head.upsample
        lp = out.phoneme_logprobs  # [B, T·up, P+1]
        input_lengths = batch.frame_mask.sum(1) * up
        keep = batch.ctc_mask
        ctc = F.ctc_loss(
            lp[keep.to(lp.device)].transpose(0, 1),  # [T·up, B', P+1]
            batch.targets.to(dev),
            input_lengths[keep].to(dev),
            batch.target_lengths[keep].to(dev),
            blank=0,
            reduction="mean",
            zero_infinity=True,
        )
        loss = loss + config.ctc_weight * ctc
        logs["ctc"] = ctc.item()
    elif out.phoneme_logprobs is not None:
        # No CTC target in this batch: keep the head in the graph with a zero loss, so that under DDP every
        # rank reduces the same gradients (a rank with CTC and one without would fall out of step).
        loss = loss + 0.0 * out.phoneme_logprobs.sum()
    adv = config.adversarial
    if disc is not None and step >= adv.start_step:
        from vocos.loss import DiscriminatorLoss, FeatureMatchingLoss, GeneratorLoss

        real_out, fake_out, _, _ = disc(audio, pred.detach())
        d_loss, _, _ = DiscriminatorLoss()(real_out, fake_out)
        disc_optim.zero_grad(set_to_none=True)
        d_loss.backward()
        disc_optim.step()
        _, fake_out, fmap_r, fmap_g = disc(audio, pred)
        g_loss, _ = GeneratorLoss()(fake_out)
        fm = FeatureMatchingLoss()(fmap_r, fmap_g)
        loss = loss + adv.generator_weight * g_loss.squeeze() + adv.feature_matching_weight * fm.squeeze()
        logs.update(disc=d_loss.item(), gen=g_loss.item(), fm=fm.item())
    optim.zero_grad(set_to_none=True)
    loss.backward()
    logs["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip))
    optim.step()
    logs["loss"] = loss.item()
    return logs


class Validator:
    """Resynthesises a fixed, language-balanced set of validation utterances and measures them."""

    def __init__(self, audio: CorpusAudio, config: CodecTrainConfig, out: Path):
        self.audio, self.config, self.out = audio, config, out
        by_lang: dict[str, list] = {}
        for item in audio.items:
            by_lang.setdefault(item.lang, []).append(item)
        picked = []
        rng = np.random.default_rng(config.seed)
        per_lang = self.per_lang = max(1, config.val_items // max(1, len(by_lang)))
        for lang in sorted(by_lang):
            items = by_lang[lang]
            for k in rng.permutation(len(items))[:per_lang]:
                picked.append(items[k])
        self.items = picked

    @torch.no_grad()
    def run(self, model: Codec, step: int) -> dict[str, float]:
        from codec import metrics

        model.eval()
        model.vq.reset_usage()
        dev = next(model.parameters()).device
        mel, stoi, pesq, errs, refs = [], [], [], 0, 0
        sample_dir = self.out / "samples" / f"step-{step:08d}"
        for k, item in enumerate(self.items):
            x = self.audio.audio(item)
            frames = model.encode(torch.from_numpy(x).to(dev))
            y = model.decode(frames)[0, : len(x)].cpu().numpy()
            mel.append(metrics.mel_distance(x, y))
            try:
                stoi.append(metrics.stoi(x, y))
                pesq.append(metrics.pesq_wb(x, y))
            except ImportError:
                pass
            if model.phoneme_head is not None and item.phonemes:
                ref = [p for p in ipa_to_phones(item.phonemes) if p in set(model.config.phonemes)]
                hyp = model.phonemes_from_ids(frames.semantic)[0]
                e, n = metrics.phoneme_errors(ref, hyp)
                errs, refs = errs + e, refs + n
            if k % self.per_lang == 0:  # one sample per language
                from flowtts.audio import write_audio_atomic

                sample_dir.mkdir(parents=True, exist_ok=True)
                write_audio_atomic(sample_dir / f"{item.id}.wav", y, 24000)
                if not (sample_dir / f"{item.id}.orig.wav").exists():
                    write_audio_atomic(sample_dir / f"{item.id}.orig.wav", x, 24000)
        usage = model.vq.usage()
        result = {
            "mel_distance": float(np.mean(mel)),
            "codebook_used": usage.fraction_used,
            "codebook_perplexity": usage.perplexity,
        }
        if stoi:
            result["stoi"] = float(np.mean(stoi))
            result["pesq_wb"] = float(np.nanmean(pesq))
        if refs:
            result["per"] = errs / refs
        return result
