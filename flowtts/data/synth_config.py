"""The settings of one corpus build, read in one place and stored with the corpus."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from flowtts.constants import LANGUAGES

# Seconds of trimmed speech per character of source text at rate 1.0, used only to plan how many
# sentences fill the requested hours. Measured means over a 1.7 h all-language build (seed 0).
SECONDS_PER_CHAR = {
    "en": 0.059,
    "fr": 0.042,
    "de": 0.063,
    "es": 0.056,
    "it": 0.055,
    "pt": 0.050,
    "nl": 0.053,
    "ar": 0.080,
    "hi": 0.059,
}


@dataclass(frozen=True)
class ProsodyRanges:
    """Per-utterance prosody is drawn uniformly from these ranges (research §9's plausible span)."""

    rate: tuple[float, float] = (0.80, 1.25)  # speaking-rate factor
    pitch: tuple[float, float] = (-3.0, 3.0)  # semitones
    pitch_range: tuple[float, float] = (0.6, 1.4)  # intonation range factor
    word_gap: tuple[int, ...] = (0, 0, 0, 1, 2)  # drawn uniformly from this tuple (10 ms units)


@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides which utterances a corpus holds. Two builds with equal configs (and
    equal voices and texts available) produce the same plan, utterance for utterance."""

    langs: tuple[str, ...]
    hours: float
    seed: int = 0
    shard_size: int = 40  # utterances per shard: the unit of parallel work, resume and atomic commit
    heldout_group_fraction: float = 0.2  # share of each language's speaker groups never seen in training
    valid_fraction: float = 0.05  # of the audio, on held-out sentences
    test_fraction: float = 0.05  # of the audio, on held-out sentences
    min_eval_utterances: int = 8  # per language and eval split, so small corpora still have test data
    espeak_share: float = 0.2  # share of training renders drawn from espeak formant pseudo-speakers
    slow_engine_weight: float = 0.25  # relative weight of RHVoice/Festival voices (≈0.2 s start-up each)
    engines: tuple[str, ...] = ("espeak", "mbrola", "pico", "flite", "rhvoice", "festival")
    prosody: ProsodyRanges = field(default_factory=ProsodyRanges)
    min_chars: int = 20
    max_chars: int = 220

    def __post_init__(self) -> None:
        from flowtts.errors import FlowTTSError

        unknown = [lang for lang in self.langs if lang not in LANGUAGES]
        if unknown:
            raise FlowTTSError(f"unknown language(s) {', '.join(unknown)}; supported: {', '.join(LANGUAGES)}")
        if not self.langs:
            raise FlowTTSError("no language given")
        if not self.hours > 0:
            raise FlowTTSError(f"--hours must be positive (got {self.hours})")
        if (
            min(self.valid_fraction, self.test_fraction) < 0
            or self.valid_fraction + self.test_fraction >= 0.5
        ):
            raise FlowTTSError("valid and test fractions must be ≥ 0 and together below 0.5")
        if not 0 <= self.heldout_group_fraction < 1:
            raise FlowTTSError(f"held-out fraction must be in [0, 1) (got {self.heldout_group_fraction})")
        if self.shard_size < 1:
            raise FlowTTSError("shard size must be at least 1")

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> SynthConfig:
        d = dict(d)
        pr = d.pop("prosody", {})
        pr = {k: tuple(v) for k, v in pr.items()}
        return SynthConfig(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()},
            prosody=ProsodyRanges(**pr),
        )
