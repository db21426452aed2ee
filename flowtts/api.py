"""The Python API: ``flowtts.load()`` -> ``TTS`` with ``synthesize`` (whole audio) and ``stream`` (chunks as
frames are generated).

    import flowtts
    tts = flowtts.load()                                   # the embedded default model, on CPU
    audio = tts.synthesize("Hello there.", voice="en-f1")  # flowtts.audio.Audio (float32, 24 kHz)
    for chunk in tts.stream("A longer text. Two sentences.", voice=tts.clone("me.wav")):
        play(chunk)                                        # np.float32 [n], 80 ms per frame

Text is normalized and split into sentences; each sentence is one generation (its length capped by its
number of characters, so it can never run on), and all sentences go through one streaming codec decoder,
so the audio is continuous. A voice's prefix (its KV cache) is computed once and reused.

Voice packs (``flowtts finetune``) attach to the loaded model without reloading it:

    pack = tts.load_voice_pack("my-voice/")                # LoRA weights + reference prompt
    audio = tts.synthesize("Hello.", voice_pack=pack)      # or voice_pack="my-voice" (its name)
    tts.unload_voice_pack("my-voice")                      # the base model is untouched
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from flowtts.adapters.lora import Adapter, AdapterSet
from flowtts.adapters.pack import BaseIdentity, VoicePack
from flowtts.audio import Audio
from flowtts.constants import SAMPLE_RATE
from flowtts.errors import FlowTTSError
from flowtts.generation.generator import (
    GenerationBatch,
    Generator,
    SamplingParams,
    StreamRequest,
    VoicePrefix,
)
from flowtts.model.sequence import text_part, voice_prefix
from flowtts.voices import Voice, VoiceLibrary, voice_from_audio

MAX_TEXT_CHARS = 100_000
# END is not allowed before this many frames per character of normalized text (≈ 42 chars/s): below the
# fastest 0.5 % of the training corpus in every language (0.35 fr … 0.68 ar frames per character)
MIN_FRAMES_PER_CHAR = 0.3
MAX_SENTENCE_CHARS = 300  # longer sentences are cut at clause marks or spaces (one generation each)


@dataclass(frozen=True)
class FrameTiming:
    """Where one frame's time went (seconds), for benchmarks."""

    backbone_and_flow: float
    codec: float


def load(model: str | os.PathLike | None = None, device: str = "cpu", voices_dir: str | None = None) -> TTS:
    """Loads a model folder (``None``: the embedded default model)."""
    from codec.release import load_codec
    from flowtts.model_dir import default_model_dir
    from flowtts.release import ModelFiles, load_tokenizer, load_tts_model

    root = Path(model) if model is not None else default_model_dir()
    files = ModelFiles(root)
    if not files.config.exists():
        if model is None:
            raise FlowTTSError("the default model is not installed in this flowtts (no config.json)")
        raise FlowTTSError(f"{root}: not a flowtts model folder (no config.json)")
    tts_model = load_tts_model(root, device)
    codec = load_codec(files.codec, device=device)
    tokenizer = load_tokenizer(root, tts_model.config)
    library = VoiceLibrary(voices_dir) if voices_dir else VoiceLibrary(VoiceLibrary.default_root())
    return TTS(root, tts_model, codec, tokenizer, library)


class TTS:
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        root: Path,
        model,
        codec,
        tokenizer,
        library: VoiceLibrary,
        base_identity: BaseIdentity | None = None,
    ):
        """``base_identity``: the model's identity when the caller knows it already (it hashes the weights
        file otherwise, on the first voice pack)."""
        self.root, self.model, self.codec, self.tokenizer = root, model, codec, tokenizer
        self.presets = VoiceLibrary(root / "voices")
        self.library = library
        self.generator = Generator(model)
        self.adapters = AdapterSet.of(model)
        self.config = model.config
        self._prefixes: OrderedDict[tuple, tuple[Voice, Adapter | None, VoicePrefix]] = OrderedDict()
        self._packs: dict[str, VoicePack] = {}
        self._base_identity = base_identity
        self.last_timings: list[FrameTiming] = []

    # --- voices -----------------------------------------------------------------------------------------

    def list_voices(self) -> list[str]:
        return sorted(set(self.presets.names()) | set(self.library.names()))

    def get_voice(self, name: str) -> Voice:
        if name in self.presets:
            return self.presets.get(name)
        if name in self.library:
            return self.library.get(name)
        raise FlowTTSError(f"unknown voice {name!r} (available: {', '.join(self.list_voices()) or 'none'})")

    def clone(
        self,
        audio: str | os.PathLike | np.ndarray,
        sample_rate: int | None = None,
        name: str = "clip",
        transcript: str = "",
        lang: str = "",
    ) -> Voice:
        """A voice from a 3–25 s clip (file path or samples), zero-shot."""
        if isinstance(audio, (str, os.PathLike)):
            from flowtts.audio import read_audio

            a = read_audio(audio)
            samples, sample_rate = a.samples, a.sample_rate
        else:
            if sample_rate is None:
                raise FlowTTSError("clone(samples) needs sample_rate")
            samples = np.asarray(audio)
        return voice_from_audio(self.codec, samples, sample_rate, name, transcript, lang)

    def voice_from_frames(
        self, semantic: torch.Tensor, acoustic: torch.Tensor, name: str = "frames"
    ) -> Voice:
        return Voice(name, semantic.long().cpu(), acoustic.float().cpu())

    def default_voice(self, lang: str = "en") -> str | None:
        """The preset used when a request names no voice: the first (by name) that speaks ``lang``, else
        the first preset; None when the model has no presets (generation then runs without a prompt)."""
        names = self.presets.names()  # presets.get reads each file once (VoiceLibrary keeps what it loaded)
        return next((n for n in names if self.presets.get(n).lang == lang), names[0] if names else None)

    def _resolve_voice(self, voice: Voice | str | None, lang: str = "en") -> Voice | None:
        if voice is None:
            name = self.default_voice(lang)
            return self.presets.get(name) if name else None
        return self.get_voice(voice) if isinstance(voice, str) else voice

    def _prefix(self, voice: Voice | None, adapter: str | None = None) -> VoicePrefix:
        attached = self.adapters.get(adapter) if adapter is not None else None
        key = (id(voice), adapter)
        hit = self._prefixes.get(key)
        if hit is not None and hit[0] is voice and hit[1] is attached:
            self._prefixes.move_to_end(key)
            return hit[2]
        d = self.config.acoustic_dim
        if voice is None:
            sem, ac = torch.zeros(0, dtype=torch.long), torch.zeros(0, d)
        else:
            if voice.acoustic.shape[1] != d:
                raise FlowTTSError(f"voice {voice.name!r} was made with another codec (acoustic dim)")
            sem, ac = voice.semantic, voice.acoustic
            keep = self.config.sampling.max_prompt_frames
            if 0 < keep < len(sem):  # the middle of the clip, where it is least likely to be silence
                start = (len(sem) - keep) // 2
                sem, ac = sem[start : start + keep], ac[start : start + keep]
        prefix = self.generator.prefill_voice(voice_prefix(self.tokenizer.specials, sem, ac), adapter)
        self._prefixes[key] = (voice, attached, prefix)
        while len(self._prefixes) > 16:
            self._prefixes.popitem(last=False)
        return prefix

    # --- voice packs ------------------------------------------------------------------------------------

    @property
    def base_identity(self) -> BaseIdentity:
        """This model's identity as voice packs record it (hashes the weights file once)."""
        if self._base_identity is None:
            self._base_identity = BaseIdentity.of_model_dir(self.root)
        return self._base_identity

    def load_voice_pack(self, path: str | os.PathLike, name: str | None = None) -> VoicePack:
        """Reads a voice pack folder and attaches it (see ``add_voice_pack``)."""
        return self.add_voice_pack(VoicePack.load(path), name)

    def add_voice_pack(self, pack: VoicePack, name: str | None = None) -> VoicePack:
        """Attaches a pack's adapter to the loaded model under ``name`` (default: the pack's name) and
        returns the pack; a pack already attached under that name is replaced. The base weights are not
        touched, so switching packs costs no model load.

        Raises:
            FlowTTSError: a full fine-tune (a model of its own), another base model, a mismatched codec.
        """
        from flowtts.voices import check_name

        name = check_name(name or pack.name)
        pack.check_base(self.base_identity)
        if pack.voice.acoustic.shape[1] != self.config.acoustic_dim:
            raise FlowTTSError(f"voice pack {pack.name!r}: its reference prompt was made with another codec")
        self.adapters.add(name, pack.adapter, replace=True)
        self._packs[name] = pack
        return pack

    def unload_voice_pack(self, name: str) -> None:
        """Detaches a pack; its cached voice prefixes are dropped."""
        if name not in self._packs:
            raise FlowTTSError(f"voice pack {name!r} is not loaded")
        del self._packs[name]
        self.adapters.remove(name)
        for key in [k for k in self._prefixes if k[1] == name]:
            del self._prefixes[key]

    def voice_packs(self) -> list[str]:
        """Names of the attached voice packs."""
        return sorted(self._packs)

    def _resolve_pack(self, voice_pack: VoicePack | str | os.PathLike | None) -> str | None:
        """The adapter name of ``voice_pack``: an attached pack (object or name) or a pack folder (loaded)."""
        if voice_pack is None:
            return None
        if isinstance(voice_pack, VoicePack):
            for name, p in self._packs.items():
                if p is voice_pack:
                    return name
            return self.add_voice_pack(voice_pack).name  # attached under its own name
        if isinstance(voice_pack, str) and voice_pack in self._packs:
            return voice_pack
        if Path(voice_pack).is_dir():
            return self.load_voice_pack(voice_pack).name
        raise FlowTTSError(
            f"unknown voice pack {str(voice_pack)!r} (loaded: {', '.join(self.voice_packs()) or 'none'})"
        )

    # --- text -------------------------------------------------------------------------------------------

    def sentences(self, text: str, lang: str) -> list[str]:
        """Normalized sentences of ``text`` (the units generated one at a time)."""
        from flowtts.text.normalize import normalize
        from flowtts.text.splitter import IncrementalSplitter

        if not isinstance(text, str) or not text.strip():
            raise FlowTTSError("empty text")
        if len(text) > MAX_TEXT_CHARS:
            raise FlowTTSError(f"text of {len(text)} characters is longer than {MAX_TEXT_CHARS}")
        self.tokenizer.lang_id(lang)  # unsupported language -> FlowTTSError
        splitter = IncrementalSplitter(lang)
        parts = splitter.push(text) + splitter.flush()
        out = []
        for p in parts:
            out.extend(_cut(normalize(p, lang).strip(), MAX_SENTENCE_CHARS))
        out = [s for s in out if s]
        if not out:
            raise FlowTTSError("nothing to say: the text has no speakable characters")
        return out

    # --- generation -------------------------------------------------------------------------------------

    def _params(self, steps, cfg, seed, temperature, solver) -> SamplingParams:
        p = SamplingParams.from_config(
            self.config.sampling, steps=steps, cfg=cfg, seed=seed, temperature=temperature, solver=solver
        )
        try:
            p.validate()
        except ValueError as e:
            raise FlowTTSError(str(e)) from None
        return p

    def request(
        self,
        sentence: str,
        voice: Voice | None,
        lang: str,
        params: SamplingParams,
        tag=None,
        voice_pack: str | None = None,
    ):
        """The ``StreamRequest`` of one normalized sentence (used by ``stream`` and by the server).
        ``voice_pack``: the name of an attached pack whose adapter this sentence runs with."""
        s = self.config.sampling
        ids = self.tokenizer.encode(sentence, lang)
        chars = len(sentence)
        if voice_pack is not None and voice_pack not in self._packs:
            raise FlowTTSError(f"voice pack {voice_pack!r} is not loaded")
        prefix = self._prefix(voice, voice_pack)
        text = text_part(self.tokenizer.specials, ids, self.config.acoustic_dim)
        min_frames = max(1, int(MIN_FRAMES_PER_CHAR * chars))
        max_frames = max(s.min_max_frames, int(s.max_frames_per_char * chars))
        room = self.config.backbone.max_positions - prefix.length - text.length - 1  # the sequence must fit
        max_frames = min(max_frames, room)
        if max_frames < min_frames:
            raise FlowTTSError(
                f"voice prompt ({prefix.length} positions) and sentence ({text.length} tokens) leave no room "
                f"in the model's {self.config.backbone.max_positions} positions; use a shorter voice clip"
            )
        return StreamRequest(
            text=text,
            prefix=prefix,
            params=params,
            min_frames=min_frames,
            max_frames=max_frames,
            tag=tag,
            adapter=voice_pack,
        )

    def stream(
        self,
        text: str,
        voice: Voice | str | None = None,
        lang: str = "en",
        steps: int | None = None,
        cfg: float | None = None,
        seed: int | None = None,
        speed: float = 1.0,
        temperature: float | None = None,
        solver: str | None = None,
        voice_pack: VoicePack | str | os.PathLike | None = None,
    ) -> Iterator[np.ndarray]:
        """Yields float32 audio chunks at 24 kHz as frames are generated (about 80 ms each).

        ``voice_pack``: an attached pack (object or name) or a pack folder; its reference prompt is the
        voice unless ``voice`` is given."""
        import time

        if not 0.5 <= speed <= 2.0:
            raise FlowTTSError(f"speed must be in [0.5, 2.0], got {speed}")
        sentences = self.sentences(text, lang)
        pack = self._resolve_pack(voice_pack)
        v = self._resolve_voice(voice, lang) if voice is not None or pack is None else self._packs[pack].voice
        params = self._params(steps, cfg, seed, temperature, solver)
        decoder = self.codec.streaming_decoder()
        stretch = None
        if speed != 1.0:
            from flowtts.dsp.time_stretch import TimeStretch

            stretch = TimeStretch(speed, SAMPLE_RATE)
        self.last_timings = []
        for k, sentence in enumerate(sentences):
            p = params if params.seed is None else SamplingParams(**{**vars(params), "seed": params.seed + k})
            batch: GenerationBatch = self.generator.start(
                [self.request(sentence, v, lang, p, voice_pack=pack)]
            )
            while batch.active:
                t0 = time.perf_counter()
                step, batch = self.generator.step(batch)
                t1 = time.perf_counter()
                if bool(step.finished[0]):
                    break
                frames = step.frames([0], self.codec.config, self.codec_device)
                chunk = decoder.push(frames)[0].cpu().numpy()
                self.last_timings.append(FrameTiming(t1 - t0, time.perf_counter() - t1))
                yield from self._out(chunk, stretch)
        yield from self._out(decoder.flush()[0].cpu().numpy(), stretch, final=True)

    @staticmethod
    def _out(chunk: np.ndarray, stretch, final: bool = False) -> Iterator[np.ndarray]:
        chunk = np.clip(chunk, -1.0, 1.0).astype(np.float32)
        if stretch is not None:
            chunk = stretch.push(chunk)
            if final:
                chunk = np.concatenate([chunk, stretch.flush()])
        if len(chunk):
            yield chunk

    @property
    def codec_device(self) -> torch.device:
        return next(self.codec.parameters()).device

    def warm_up(self, voice: Voice | str | None = None, lang: str = "en", max_streams: int = 1) -> None:
        """Pays the first-call costs before a user waits for them (what a server does at start): turns on
        the generator's traced single-stream steps (``flowtts.generation.traced``) and builds them with one
        short synthesis, and builds traced codec decoder graphs (faster per frame) for up to
        ``max_streams`` streams decoded together."""
        from codec.streaming import warm_up

        self.generator.trace_steps()
        sampling = self.config.sampling
        self.generator.traced.warm_up_flow(sampling.steps, sampling.cfg, max_streams)
        self.synthesize("Hello.", voice=voice, lang=lang, seed=0)
        warm_up(self.codec, max_streams)

    def synthesize(self, text: str, voice: Voice | str | None = None, lang: str = "en", **kw) -> Audio:
        """The whole audio of ``text`` (see ``stream`` for the options)."""
        chunks = list(self.stream(text, voice=voice, lang=lang, **kw))
        samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        return Audio(samples.astype(np.float32), SAMPLE_RATE)


def _cut(sentence: str, limit: int) -> list[str]:
    """``sentence`` in pieces of at most ``limit`` characters, cut after , ; : or else at a space."""
    out = []
    while len(sentence) > limit:
        window = sentence[: limit + 1]
        cut = max(window.rfind(", "), window.rfind("; "), window.rfind(": "))
        if cut < limit // 3:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        out.append(sentence[: cut + 1].strip())
        sentence = sentence[cut + 1 :].strip()
    out.append(sentence)
    return out
