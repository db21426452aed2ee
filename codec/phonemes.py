"""Phoneme labels for the semantic branch: espeak-ng IPA strings from the corpus -> phone units.

The corpus rows carry espeak-ng IPA for every utterance (``Utterance.phonemes``), whatever engine spoke
it. A phone unit is one base IPA letter with its modifiers attached (length ``ː``, combining diacritics,
tie bars and the letters they join, palatalisation/aspiration superscripts). Stress marks, word spaces,
espeak's language-switch tags like ``(en)`` and punctuation are dropped: CTC learns the sequence of
sounds, not prosody marks.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

# Modifier letters that belong to the preceding phone.
_ATTACH = set("ːˑʰʲʷˠˤ̃ʼ˞ⁿˡ")
_DROP = set("ˈˌ.‖|-'’,;:!?\"()[]{}")
_TAG = re.compile(r"\([a-z]{2,3}(-[a-z]+)?\)")
_TIE = {"\u0361", "\u035c"}  # combining double inverted breve / double breve below: t͡ʃ


def ipa_to_phones(ipa: str) -> list[str]:
    """Splits an IPA string into phone units.

    ``"tˈɛst t͡ʃiːz"`` -> ``['t', 'ɛ', 's', 't', 't͡ʃ', 'iː', 'z']``
    """
    text = unicodedata.normalize("NFD", _TAG.sub(" ", ipa))
    phones: list[str] = []
    join_next = False
    for ch in text:
        if ch.isspace() or ch in _DROP:
            join_next = False
            continue
        if ch in _TIE:
            if phones:
                phones[-1] += ch
                join_next = True
            continue
        if phones and (join_next or ch in _ATTACH or unicodedata.combining(ch)):
            phones[-1] += ch
            join_next = False
            continue
        if ch.isdigit() or ch in _ATTACH or unicodedata.combining(ch):
            continue  # a digit, or a modifier with no phone before it
        phones.append(ch)
    return [unicodedata.normalize("NFC", p) for p in phones]


def build_inventory(ipa_strings: Iterable[str], min_count: int = 5) -> tuple[str, ...]:
    """Phone units seen at least ``min_count`` times, most frequent first (ties by name): the CTC labels."""
    counts: Counter[str] = Counter()
    for ipa in ipa_strings:
        counts.update(ipa_to_phones(ipa))
    kept = [p for p, c in counts.items() if c >= min_count]
    return tuple(sorted(kept, key=lambda p: (-counts[p], p)))


def phones_to_ids(phones: list[str], inventory: tuple[str, ...]) -> list[int]:
    """CTC target ids (1-based; 0 is the blank). Phones outside the inventory are skipped."""
    index = {p: i + 1 for i, p in enumerate(inventory)}
    return [index[p] for p in phones if p in index]


def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance between two sequences (substitutions, insertions, deletions cost 1)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def ctc_greedy(ids: list[int]) -> list[int]:
    """Greedy CTC decoding of a best-path id sequence: merge repeats, drop blanks (0)."""
    out: list[int] = []
    last = -1
    for i in ids:
        if i != last and i != 0:
            out.append(i)
        last = i
    return out
