"""The phoneme frontend: normalized text -> espeak-ng phone units -> ids after the tokenizer's own.

The TTS model may read phones instead of sentencepiece pieces (``TTSConfig.text_frontend = "phonemes"``).
With pieces, a 19-hour corpus has to teach 9 languages' spelling as well as their sounds; phones leave
only the sounds. The units of a sentence:

    clause by clause (split after , ; : . ! ? …), espeak-ng's IPA of the clause
    (``flowtts.data.engines.espeak.phonemize``, the function that labelled the corpus), split into phone
    units as the codec's CTC labels are (``codec.phonemes.ipa_to_phones``) plus the stress marks ˈ ˌ as
    units of their own, a word boundary ``▁`` after each word, and the clause's punctuation as a unit
    (``,`` for , ; : and ``.`` ``?`` ``!`` for the rest), which carries the pauses and the intonation.

``PhonemeInventory`` is the set of units a model knows (built from its training texts, saved as
``phonemes.json`` in the model folder); unit i has id ``offset + i``, where ``offset`` is the sentencepiece
tokenizer's size, so the control tokens and language tags keep their ids. ``PhonemeTokenizer`` is the
tokenizer with that frontend: the same ``specials``, ``lang_id`` and ``encode(text, lang)`` -> ``[<lang>,
units…]``. Units outside the inventory are dropped (rare: a phone seen fewer than ``min_count`` times).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flowtts.errors import FlowTTSError
from flowtts.text.tokenizer import Tokenizer

WORD = "▁"  # word boundary
STRESS = ("ˈ", "ˌ")
FORMAT_VERSION = 1
_CLAUSE = re.compile(r"([^,;:.!?…]*)([,;:.!?…]*)")
_MARK = {",": ",", ";": ",", ":": ",", ".": ".", "…": ".", "!": "!", "?": "?"}


def phoneme_units(text: str, lang: str) -> list[str]:
    """The units of normalized ``text`` in ``lang`` (see the module doc). Needs libespeak-ng; remembered for
    the last 65,536 sentences (a training run reads each of its sentences twice)."""
    return list(_units(text, lang))


@lru_cache(maxsize=65536)
def _units(text: str, lang: str) -> tuple[str, ...]:
    from codec.phonemes import ipa_to_phones
    from flowtts.data.engines.espeak import phonemize

    units: list[str] = []
    for match in _CLAUSE.finditer(text):
        clause, marks = match.group(1), match.group(2)
        if clause.strip():
            for word in phonemize(clause, lang).split():
                chunk = ""
                for ch in word + " ":
                    if ch in STRESS or ch == " ":
                        units += ipa_to_phones(chunk)
                        chunk = ""
                        if ch != " ":
                            units.append(ch)
                    else:
                        chunk += ch
                if units and units[-1] != WORD:
                    units.append(WORD)
        mark = next((_MARK[c] for c in marks if c in _MARK), None)
        if mark is not None and units:
            units.append(mark)
    return tuple(units)


@dataclass(frozen=True)
class PhonemeInventory:
    units: tuple[str, ...]  # unit i has id offset + i
    offset: int  # the sentencepiece tokenizer's vocabulary size

    @property
    def vocab_size(self) -> int:
        """The text vocabulary of a model with this frontend: pieces, then units."""
        return self.offset + len(self.units)

    def ids(self, units: Iterable[str]) -> list[int]:
        index = {u: self.offset + i for i, u in enumerate(self.units)}
        return [index[u] for u in units if u in index]

    @classmethod
    def build(cls, sentences: Iterable[tuple[str, str]], offset: int, min_count: int = 3) -> PhonemeInventory:
        """The units of ``(lang, normalized text)`` pairs seen at least ``min_count`` times, most frequent
        first (ties by name)."""
        counts: Counter[str] = Counter()
        for lang, text in sentences:
            counts.update(phoneme_units(text, lang))
        kept = sorted((u for u, c in counts.items() if c >= min_count), key=lambda u: (-counts[u], u))
        if not kept:
            raise FlowTTSError("phoneme inventory: no phones in the training texts (is espeak-ng installed?)")
        return cls(tuple(kept), offset)

    def save(self, path: str | os.PathLike) -> None:
        from flowtts.atomic import write_text_atomic

        doc = {"format_version": FORMAT_VERSION, "offset": self.offset, "units": list(self.units)}
        write_text_atomic(Path(path), json.dumps(doc, ensure_ascii=False, indent=0) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> PhonemeInventory:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            if doc.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
                raise FlowTTSError(f"{path}: phoneme inventory format_version is newer than this flowtts")
            return cls(tuple(doc["units"]), int(doc["offset"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise FlowTTSError(f"{path}: not a phoneme inventory ({e})") from None


class PhonemeTokenizer:
    """A ``Tokenizer`` whose ``encode`` reads phones (``phoneme_units``) instead of pieces."""

    def __init__(self, tokenizer: Tokenizer, inventory: PhonemeInventory):
        if inventory.offset != tokenizer.vocab_size:
            raise FlowTTSError(
                f"phoneme inventory made for a tokenizer of {inventory.offset} pieces, this one has "
                f"{tokenizer.vocab_size}"
            )
        self.pieces, self.inventory = tokenizer, inventory
        self.specials = tokenizer.specials

    @property
    def vocab_size(self) -> int:
        return self.inventory.vocab_size

    def lang_id(self, lang: str) -> int:
        return self.pieces.lang_id(lang)

    def encode(self, text: str, lang: str) -> list[int]:
        """``[<lang:xx>, unit ids…]`` of normalized ``text``."""
        return [self.lang_id(lang), *self.inventory.ids(phoneme_units(text, lang))]

    def serialized(self) -> bytes:
        return self.pieces.serialized()
