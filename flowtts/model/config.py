"""``TTSConfig``: the TTS model's shape, frozen and read in one place; stored in a model's ``config.json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from flowtts.errors import FlowTTSError

CONFIG_FORMAT_VERSION = 1
TEXT_FRONTENDS = ("pieces", "phonemes")


@dataclass(frozen=True)
class BackboneConfig:
    dim: int = 384
    layers: int = 8
    heads: int = 6  # query heads
    kv_heads: int = 2  # grouped-query attention: heads / kv_heads queries share one key/value head
    ffn_dim: int = 1024  # SwiGLU hidden width
    rope_theta: float = 10_000.0
    norm_eps: float = 1e-5
    max_positions: int = 4096  # longest sequence (prompt + text + frames) the RoPE tables cover

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


@dataclass(frozen=True)
class FlowHeadConfig:
    """Velocity network: a small bidirectional transformer over 4 tokens (x_t, time, backbone state,
    semantic id), after Voxtral's 3-token flow transformer (voxtral-spec.md §3.1) plus the semantic id."""

    dim: int = 256
    layers: int = 2
    heads: int = 4
    ffn_dim: int = 768
    cond_dropout: float = 0.1  # training: the backbone state is replaced by zeros this often (for CFG)


@dataclass(frozen=True)
class SamplingConfig:
    """Defaults of generation; every field can be overridden per request."""

    steps: int = 8  # ODE steps of the flow head (4–16)
    cfg: float = 1.2  # classifier-free guidance α: v = α·v_cond + (1 − α)·v_uncond
    solver: str = "euler"  # any fixed-step torchdiffeq method: euler, midpoint, rk4
    temperature: float = 0.0  # semantic ids: 0 = greedy
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    repetition_window: int = 16  # repetition guard: look at this many recent ids …
    max_repeats: int = 8  # … and forbid an id that already filled this many of them
    max_frames_per_char: float = 2.0  # hard cap on length: 2 frames (160 ms) per input character, …
    min_max_frames: int = 38  # … but at least 3 s
    max_prompt_frames: int = 75  # a longer voice clip is cut to its middle 75 frames (6 s): the prompt
    # length range the model was trained on (training data.prompt_frames); 0 = use the whole clip


@dataclass(frozen=True)
class TTSConfig:
    text_vocab_size: int = 4096  # the tokenizer's vocabulary (ids of text and control pieces)
    codebook_size: int = 8192  # K of the codec's semantic VQ; id K is END_AUDIO
    acoustic_dim: int = 36  # D of the codec's FSQ
    fsq_levels: int = 21  # L of the codec's FSQ
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    flow: FlowHeadConfig = field(default_factory=FlowHeadConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    # Training only: a text-CTC head (``TTSModel.text_ctc_head``) on the backbone states of the generated
    # frames, trained with ``TTSTrainConfig.ctc_weight`` > 0. Its parameters exist only when this is on;
    # releases never hold it (``flowtts.release`` writes them with text_ctc off, without the head).
    text_ctc: bool = False
    # What the text ids are: "pieces" (the sentencepiece tokenizer's) or "phonemes" (espeak-ng phone units
    # after the pieces' ids, ``flowtts.text.phonemes``; the model folder then holds phonemes.json)
    text_frontend: str = "pieces"

    def __post_init__(self) -> None:
        if self.text_frontend not in TEXT_FRONTENDS:
            known = ", ".join(TEXT_FRONTENDS)
            raise FlowTTSError(f"model config: text_frontend {self.text_frontend!r} is not one of {known}")

    @property
    def end_id(self) -> int:
        """The end-of-audio id in the semantic vocabulary (one past the codec's codes)."""
        return self.codebook_size

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.text_ctc:
            # left out when off: model folders' and runs' config.json stay what flowtts wrote before the
            # switch existed (and what older versions, which reject unknown keys, read)
            del d["text_ctc"]
        if self.text_frontend == "pieces":
            del d["text_frontend"]  # the same for the frontend every model had before it could change
        d["format_version"] = CONFIG_FORMAT_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TTSConfig:
        d = dict(d)
        version = d.pop("format_version", CONFIG_FORMAT_VERSION)
        if version > CONFIG_FORMAT_VERSION:
            raise FlowTTSError(f"model config format_version {version} is newer than this flowtts")
        sub = {"backbone": BackboneConfig, "flow": FlowHeadConfig, "sampling": SamplingConfig}
        names = {f.name for f in fields(cls)}
        kwargs = {}
        for key, value in d.items():
            if key in sub:
                unknown = set(value) - {f.name for f in fields(sub[key])}
                if unknown:
                    raise FlowTTSError(f"model config: unknown keys {sorted(unknown)} in {key}")
                kwargs[key] = sub[key](**value)
            elif key in names:
                kwargs[key] = value
            else:
                raise FlowTTSError(f"model config: unknown key {key!r}")
        return cls(**kwargs)
