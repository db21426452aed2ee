"""``flowtts.finetune.adapt``: a folder of recordings -> a voice pack (what ``flowtts finetune`` runs)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from flowtts.errors import FlowTTSError
from flowtts.finetune.callbacks import Callback
from flowtts.finetune.config import FinetuneConfig
from flowtts.finetune.data import DataSummary, FinetuneData

WORK = "work"


@dataclass(frozen=True)
class FinetuneResult:
    pack: Path  # the voice pack folder (complete unless ``stopped``)
    name: str
    kind: str  # lora | full
    stopped: bool  # interrupted: no pack yet; the same call resumes
    step: int
    stopped_by: str  # early_stopping | steps | epochs | interrupted
    best_step: int
    before: dict[str, float]  # held-out metrics of the base model
    after: dict[str, float]  # held-out metrics of the pack
    data: DataSummary
    seconds: float  # training wall time
    pack_bytes: int  # the whole folder (samples included)
    adapter_bytes: int  # adapter.safetensors (0 for a full fine-tune)


def resolve_base(base: str | os.PathLike | None) -> Path:
    """The model folder of ``--base``: ``default`` (the embedded model) or a folder."""
    from flowtts.model_dir import default_model_dir

    if base is None or str(base) == "default":
        root = default_model_dir()
        if not (root / "config.json").is_file():
            raise FlowTTSError("the default model is not installed in this flowtts; give --base MODEL_DIR")
        return root
    root = Path(base)
    if not (root / "config.json").is_file():
        raise FlowTTSError(f"--base {base}: not a flowtts model folder (no config.json)")
    return root


def adapt(
    data_dir: str | os.PathLike,
    base: str | os.PathLike | None = "default",
    out: str | os.PathLike | None = None,
    config: FinetuneConfig | None = None,
    callbacks: Sequence[Callback] = (),
    *,
    lang: str = "en",
    name: str | None = None,
    device: str = "auto",
    restart: bool = False,
    resume: bool = False,
    keep_work: bool = False,
    progress: bool = False,
) -> FinetuneResult:
    """Adapts a base model to one speaker and writes a voice pack to ``out``.

    ``data_dir`` is an LJSpeech folder (``metadata.csv`` + ``wavs/``) or a folder of audio files, each with a
    same-stem ``.txt`` transcript; any sample rate or format libsndfile reads. It is prepared (resampled,
    trimmed, long files split, bad clips rejected with a reason), a tenth is held out, and LoRA adapters (or
    every weight, ``config.full``) are trained with early stopping on the held-out loss. The run lives in
    ``out/work`` until the pack is written; calling again with the same arguments resumes it (``restart``
    starts over; ``resume`` insists on an existing run). SIGTERM / Ctrl-C stop it cleanly (``stopped``).

        import flowtts
        from flowtts.finetune import Callback, FinetuneConfig, adapt

        class Log(Callback):
            def on_validation(self, step, metrics):
                print(step, metrics["valid_loss"])

            def extra_loss(self, model, batch, loss):        # optional: a custom term (scalar tensor)
                return 0.01 * loss.flow

        result = adapt("recordings/", base="default", out="my-voice/",
                       config=FinetuneConfig(rank=8, steps=600), callbacks=[Log()], lang="en")
        tts = flowtts.load()
        audio = tts.synthesize("Hello.", voice_pack=tts.load_voice_pack(result.pack))

    Raises:
        FlowTTSError: bad input (one line), including too little usable audio, which stops the run
            before any training (after ``Callback.on_data`` has seen every rejected file).
    """
    from codec.release import load_codec
    from flowtts.adapters.lora import resolve_targets
    from flowtts.adapters.pack import BaseIdentity, PackFiles
    from flowtts.api import TTS
    from flowtts.atomic import ensure_writable_dirs
    from flowtts.data.prepare import sanitize_voice
    from flowtts.finetune import trainer
    from flowtts.finetune.data import prepare_data
    from flowtts.release import ModelFiles, load_tokenizer, load_tts_model
    from flowtts.training.loop import latest_checkpoint, pick_device
    from flowtts.voices import VoiceLibrary, check_name

    config = config or FinetuneConfig()
    callbacks = list(callbacks)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FlowTTSError(f"data folder {data_dir} does not exist or is not a folder")
    if out is None:
        raise FlowTTSError("adapt() needs out= (the voice pack folder to write)")
    out = Path(out)
    if out.resolve().is_relative_to(data_dir.resolve()):
        raise FlowTTSError(f"--out {out} is inside the data folder {data_dir}; write the pack elsewhere")
    base_root = resolve_base(base)
    files = ModelFiles(base_root)
    pack_files = PackFiles(out)
    work = out / WORK
    if restart:
        _clear(out)
    elif pack_files.info.exists():
        raise FlowTTSError(f"{out} already holds a voice pack; use --restart to make it again")
    if resume and latest_checkpoint(work) is None:
        raise FlowTTSError(f"nothing to resume in {work} (no checkpoint)")
    ensure_writable_dirs([work], f"--out {out}")
    name = check_name(name or sanitize_voice(out.resolve().name))
    dev = pick_device(device)
    if config.threads:
        torch.set_num_threads(config.threads)

    identity = BaseIdentity.of_model_dir(base_root)
    model = load_tts_model(base_root, dev)
    tokenizer = load_tokenizer(base_root, model.config)
    tokenizer.lang_id(lang)  # a language the base model does not speak: one line, before training
    if not config.full:
        resolve_targets(model, config.targets)  # a bad --targets: one line, before any work
    data = prepare_data(
        data_dir,
        work,
        lang=lang,
        voice=sanitize_voice(name),
        codec_path=files.codec,
        config=config,
        device=str(dev),
        progress=progress,
        on_summary=lambda s: [cb.on_data(s) for cb in callbacks],
    )
    codec = load_codec(files.codec, device=dev)
    tts = TTS(base_root, model, codec, tokenizer, VoiceLibrary(work / "voices"), identity)
    voice = data.reference_voice(name, model.config.fsq_levels)
    texts = _sample_texts(data, config.samples)
    _write_samples(tts, texts, voice, None, work / "samples", "before", config.seed)

    run_id = {"data": data.fingerprint, "base": identity.model_id, "lang": lang}
    outcome = trainer.train(model, data, tokenizer, config, work, dev, run_id, callbacks, progress)
    result = dict(
        pack=out,
        name=name,
        kind=config.mode,
        step=outcome.step,
        stopped_by=outcome.stopped_by,
        best_step=outcome.best_step,
        before=outcome.before,
        after=outcome.after,
        data=data.summary,
        seconds=outcome.seconds,
    )
    if outcome.stopped_by == "interrupted":
        return FinetuneResult(stopped=True, pack_bytes=0, adapter_bytes=0, **result)

    from flowtts.adapters.pack import VoicePack, pack_bytes, write_voice_pack
    from flowtts.finetune.report import render_report

    # a fresh TTS: the first one's cached voice prefixes were computed with the weights before training
    tts = TTS(base_root, model, codec, tokenizer, VoiceLibrary(work / "voices"), identity)
    adapter = None
    pack_name = None
    if outcome.adapter is not None:
        adapter = tts.adapters.remove(trainer.TRAIN_ADAPTER)
        with torch.no_grad():
            for p in adapter.parameters():
                p.copy_(p.half().float())  # the samples are made with what the pack stores (float16)
        pack = tts.add_voice_pack(VoicePack(name, "lora", voice, identity, adapter))
        pack_name = name
    samples_dir = pack_files.samples
    _write_samples(tts, texts, voice, pack_name, samples_dir, "after", config.seed)
    for p in sorted((work / "samples").glob("before-*.wav")):
        samples_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, samples_dir / p.name)
    if adapter is None:
        from flowtts.release import write_model_dir

        write_model_dir(
            pack_files.model,
            model,
            files.codec,
            files.tokenizer,
            extra={"name": f"{identity.name}+{name}", "base_model_id": identity.model_id},
            phonemes_path=files.phonemes_if_any(),
        )
    else:
        tts.unload_voice_pack(pack.name)
    info = _info(config, data, voice, adapter, outcome, texts, lang, dev)
    write_voice_pack(out, name, voice, identity, info, render_report(name, identity.to_dict(), info), adapter)
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    adapter_bytes = pack_files.adapter.stat().st_size if adapter is not None else 0
    return FinetuneResult(stopped=False, pack_bytes=pack_bytes(out), adapter_bytes=adapter_bytes, **result)


def _clear(out: Path) -> None:
    """Removes what a fine-tune writes into ``out`` (and nothing else the folder may hold)."""
    from flowtts.adapters.pack import PackFiles

    files = PackFiles(out)
    for d in (out / WORK, files.samples, files.model):
        shutil.rmtree(d, ignore_errors=True)
    for f in (files.info, files.adapter, files.voice, files.report):
        f.unlink(missing_ok=True)


def _sample_texts(data: FinetuneData, count: int) -> list[tuple[str, str]]:
    """(text, lang) of the ``count`` shortest held-out clips: sentences the adapter never trained on."""
    rows = sorted(data.valid, key=lambda r: (r.duration, r.id))[:count]
    return [(r.text or r.normalized_text, r.lang) for r in rows]


def _write_samples(tts, texts, voice, pack: str | None, folder: Path, kind: str, seed: int) -> None:
    """``folder/<kind>-<k>.wav`` for each text (kept when already there: a resumed run)."""
    from flowtts.audio import write_audio_atomic

    for k, (text, lang) in enumerate(texts, 1):
        path = folder / f"{kind}-{k}.wav"
        if path.exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        audio = tts.synthesize(text, voice=voice, lang=lang, seed=seed, voice_pack=pack)
        write_audio_atomic(path, np.asarray(audio.samples), audio.sample_rate)


def _info(config, data: FinetuneData, voice, adapter, outcome, texts, lang: str, dev) -> dict:
    """pack.json's content beyond format, name, kind and base."""
    from flowtts import __version__
    from flowtts.constants import FRAME_RATE

    info = {
        "flowtts_version": __version__,
        "lang": lang,
        "voice": {
            "file": "voice.safetensors",
            "clip": data.reference.id,
            "source": data.reference.source,
            "seconds": round(voice.num_frames / FRAME_RATE, 2),
            "transcript": voice.transcript,
        },
        "data": {k: v for k, v in data.summary.to_dict().items() if k != "report_path"},  # work/ goes away
        "training": {
            "mode": config.mode,
            "config": config.to_dict(),
            "learning_rate": config.learning_rate,
            "steps": outcome.step,
            "epochs": outcome.epochs,
            "stopped_by": outcome.stopped_by,
            "best_step": outcome.best_step,
            "seconds": round(outcome.seconds, 1),
            "device": str(dev),
            "trainable_parameters": outcome.trainable_parameters,
        },
        "metrics": {
            "valid_before": outcome.before,
            "valid_after": outcome.after,
            "history": outcome.history,
        },
        "samples": [
            {"text": t, "lang": lg, "before": f"samples/before-{k}.wav", "after": f"samples/after-{k}.wav"}
            for k, (t, lg) in enumerate(texts, 1)
        ],
    }
    if adapter is not None:
        c = adapter.config
        info["adapter"] = {
            "file": "adapter.safetensors",
            "rank": c.rank,
            "alpha": c.alpha,
            "targets": list(c.targets),
            "layers": len(adapter.paths),
            "parameters": adapter.num_parameters(),
            "dtype": "float16",
        }
    return info
