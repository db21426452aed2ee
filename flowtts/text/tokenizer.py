"""The text tokenizer: one SentencePiece model for all languages, plus language tags and the specials the
backbone's prompt needs.

Id layout (fixed by ``TokenizerConfig`` order, checked when a model is loaded):

====  =======================  ==========================================================
0     ``<pad>``                padding; never produced by ``encode``
1     ``<unk>``                never produced either: byte fallback covers every character
2     ``<s>`` / 3 ``</s>``     begin / end of sequence
4–12  ``<lang:en>`` …          one tag per language, in ``SUPPORTED_LANGUAGES`` order; ``encode``
                               puts the tag first
13–16 ``<begin_audio>``,       the Voxtral-style prompt: ``<s> <begin_audio> <audio>×N <next>
      ``<audio>``, ``<next>``, <lang:xx> text <repeat> <begin_audio>`` (see research/voxtral-spec.md §2.3)
      ``<repeat>``
17–24 ``<reserved_0..7>``      room for later specials without retraining
====  =======================  ==========================================================

then the 256 byte pieces ``<0x00>``…``<0xFF>``, then the learned pieces. Specials are SentencePiece
*control* symbols, not user-defined ones: text that happens to contain "<lang:en>" is encoded as
characters and can never inject a control id.

Training choices: ``normalization_rule_name="identity"`` because ``flowtts.text.normalize`` has
already applied NFKC and whitespace clean-up (a second normalization would make the ids disagree
with the text the corpus manifests record); ``character_coverage=1.0`` because the normalized corpus
has a closed alphabet of a few hundred characters (Latin with accents, Arabic, Devanagari) and every
one of them should be a piece rather than 2–3 byte pieces (Devanagari vowel signs are 3 bytes each);
byte fallback catches anything unseen. The default of 4096 pieces suits nine languages on a corpus of
some hundred thousand sentences and a small backbone: about 3–4 characters per piece in the Latin
languages, few rarely-seen pieces whose embeddings would stay untrained, and a short text sequence
next to 12.5 audio frames per second. Training reads all sentences in order with one thread, so the
same input gives the same model, byte for byte.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flowtts.atomic import write_bytes_atomic
from flowtts.constants import LANGUAGES
from flowtts.errors import FlowTTSError

AUDIO_SPECIALS = ("<begin_audio>", "<audio>", "<next>", "<repeat>")
N_RESERVED = 8


def lang_tag(lang: str) -> str:
    """The control piece of a language, e.g. "<lang:en>"."""
    return f"<lang:{lang}>"


def control_symbols() -> list[str]:
    """Control pieces after the four basics, in id order (4, 5, ...)."""
    return (
        [lang_tag(x) for x in LANGUAGES]
        + list(AUDIO_SPECIALS)
        + [f"<reserved_{i}>" for i in range(N_RESERVED)]
    )


@dataclass(frozen=True)
class TokenizerConfig:
    """SentencePiece training settings (see the module docstring for why these defaults)."""

    vocab_size: int = 4096
    model_type: str = "unigram"
    character_coverage: float = 1.0
    max_sentences: int = 5_000_000  # more are ignored (the first ones are kept: deterministic)
    max_sentence_chars: int = 2048  # longer lines are skipped by SentencePiece
    num_threads: int = 1  # one thread: the same corpus gives the same model


@dataclass(frozen=True)
class SpecialIds:
    """Ids of the control pieces."""

    pad: int
    unk: int
    bos: int
    eos: int
    begin_audio: int
    audio: int
    next: int
    repeat: int
    langs: dict[str, int] = field(default_factory=dict)


class Tokenizer:
    """A loaded SentencePiece model with language tags. Build with ``load``, ``from_bytes`` or ``train``."""

    def __init__(self, model_bytes: bytes) -> None:
        import sentencepiece as spm

        self._bytes = model_bytes
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(model_bytes)
        except (RuntimeError, OSError, TypeError) as e:
            raise FlowTTSError(f"not a sentencepiece model: {e}") from None
        self.specials = self._special_ids()

    def _special_ids(self) -> SpecialIds:
        sp = self._sp
        expected = ["<pad>", "<unk>", "<s>", "</s>", *control_symbols()]
        found = [sp.IdToPiece(i) if i < sp.GetPieceSize() else None for i in range(len(expected))]
        if found != expected:
            raise FlowTTSError(
                "tokenizer model lacks the flowtts special pieces (train it with "
                "`flowtts text train-tokenizer`)"
            )
        ids = {piece: i for i, piece in enumerate(expected)}
        return SpecialIds(
            pad=0,
            unk=1,
            bos=2,
            eos=3,
            begin_audio=ids["<begin_audio>"],
            audio=ids["<audio>"],
            next=ids["<next>"],
            repeat=ids["<repeat>"],
            langs={x: ids[lang_tag(x)] for x in LANGUAGES},
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Loads a ``tokenizer.model`` file.

        Raises:
            FlowTTSError: the file is missing, unreadable or not a flowtts tokenizer.
        """
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise FlowTTSError(f"cannot read tokenizer {path}: {e.strerror or e}") from None
        return cls(data)

    @classmethod
    def from_bytes(cls, data: bytes) -> Tokenizer:
        return cls(data)

    @classmethod
    def train(
        cls,
        sentences: Iterable[tuple[str, str]],
        out: str | os.PathLike | None = None,
        config: TokenizerConfig | None = None,
    ) -> Tokenizer:
        """Trains on ``(lang, text)`` pairs (normalized text), in memory; writes ``out`` atomically.

        Raises:
            FlowTTSError: an unknown language, no text, or ``out`` cannot be written.
        """
        return train_tokenizer(sentences, out, config or TokenizerConfig())

    @property
    def vocab_size(self) -> int:
        return self._sp.GetPieceSize()

    def lang_id(self, lang: str) -> int:
        """Id of the language tag; FlowTTSError for an unsupported language."""
        try:
            return self.specials.langs[lang]
        except KeyError:
            raise FlowTTSError(f"unsupported language {lang!r} (supported: {', '.join(LANGUAGES)})") from None

    def encode(
        self, text: str, lang: str, *, normalize: bool = False, add_bos: bool = False, add_eos: bool = False
    ) -> list[int]:
        """Ids of ``text``: ``[<s>] <lang:xx> pieces… [</s>]``. ``text`` should already be normalized
        (``normalize=True`` does it here). Never fails on any character (byte fallback)."""
        lang_id = self.lang_id(lang)
        if normalize:
            from flowtts.text.normalize import normalize as _normalize

            text = _normalize(text, lang)
        ids = [lang_id, *self._sp.EncodeAsIds(text)]
        return ([self.specials.bos] if add_bos else []) + ids + ([self.specials.eos] if add_eos else [])

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; control ids (tags, specials, padding) are skipped."""
        size = self.vocab_size
        return self._sp.DecodeIds(
            [int(i) for i in ids if 0 <= int(i) < size and not self._sp.IsControl(int(i))]
        )

    def id_to_piece(self, i: int) -> str:
        return self._sp.IdToPiece(i)

    def serialized(self) -> bytes:
        """The model file's bytes."""
        return self._bytes


def _collect(sentences: Iterable[tuple[str, str]], limit: int) -> list[str]:
    """Validates languages and returns the non-empty texts (newlines become spaces)."""
    texts: list[str] = []
    for lang, text in sentences:
        if lang not in LANGUAGES:
            raise FlowTTSError(
                f"unsupported language {lang!r} in tokenizer corpus (supported: {', '.join(LANGUAGES)})"
            )
        text = " ".join(str(text).split())
        if text:
            texts.append(text)
            if len(texts) >= limit:
                break
    return texts


def train_tokenizer(
    sentences: Iterable[tuple[str, str]], out: str | os.PathLike | None, config: TokenizerConfig
) -> Tokenizer:
    """Trains the SentencePiece model (see ``Tokenizer.train``)."""
    import sentencepiece as spm

    texts = _collect(sentences, config.max_sentences)
    if not texts:
        raise FlowTTSError(
            "no text to train the tokenizer on (empty corpus or files, or no rows in the chosen splits)"
        )
    out_path = Path(out) if out is not None else None
    if out_path is not None and not out_path.parent.is_dir():
        raise FlowTTSError(f"cannot write {out_path}: folder {out_path.parent} does not exist")
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts),
            model_writer=model,
            vocab_size=config.vocab_size,
            model_type=config.model_type,
            character_coverage=config.character_coverage,
            byte_fallback=True,
            normalization_rule_name="identity",
            pad_id=0,
            unk_id=1,
            bos_id=2,
            eos_id=3,
            control_symbols=control_symbols(),
            hard_vocab_limit=False,
            num_threads=config.num_threads,
            max_sentence_length=config.max_sentence_chars * 4,
            shuffle_input_sentence=False,
            split_digits=True,
            minloglevel=2,
        )
    except RuntimeError as e:
        raise FlowTTSError(f"sentencepiece training failed: {e}") from None
    tokenizer = Tokenizer(model.getvalue())
    if out_path is not None:
        try:
            write_bytes_atomic(out_path, tokenizer.serialized())
        except OSError as e:
            raise FlowTTSError(f"cannot write {out_path}: {e.strerror or e}") from None
    return tokenizer
