"""IPA -> phone units, the CTC inventory, greedy CTC decoding and edit distance."""

from __future__ import annotations

import pytest

from codec.phonemes import build_inventory, ctc_greedy, edit_distance, ipa_to_phones, phones_to_ids


@pytest.mark.parametrize(
    "ipa, phones",
    [
        # stress marks dropped, length mark attached, tie bar joins the two letters
        ("tˈɛst t͡ʃiːz", ["t", "ɛ", "s", "t", "t͡ʃ", "iː", "z"]),
        ("d͜ʒˌɔb", ["d͜ʒ", "ɔ", "b"]),  # the other tie (double breve below)
        ("pʲaˑ kʰæt", ["pʲ", "aˑ", "kʰ", "æ", "t"]),  # half-long, palatalised, aspirated
        # combining diacritics: nasal tilde, syllabic stroke; precomposed and decomposed forms agree (NFC)
        ("bɔ̃ʒˈuʁ", ["b", "ɔ̃", "ʒ", "u", "ʁ"]),
        ("ɡˈuːtn̩", ["ɡ", "uː", "t", "n̩"]),
        ("café", ["c", "a", "f", "é"]),
        ("cafe\u0301", ["c", "a", "f", "é"]),
        # espeak's language switches are not sounds
        ("hˈaʊs (en)wˈɜːld(fr) ʁ", ["h", "a", "ʊ", "s", "w", "ɜː", "l", "d", "ʁ"]),
        ("(en-us)hˈɪ", ["h", "ɪ"]),
        # punctuation, syllable dots, tone digits and whitespace
        ("a-b, c! d.e ma1", ["a", "b", "c", "d", "e", "m", "a"]),
        ("", []),
        ("ˈ ˌ  ", []),
    ],
)
def test_ipa_to_phones(ipa: str, phones: list[str]) -> None:
    assert ipa_to_phones(ipa) == phones


def test_inventory_order_and_min_count() -> None:
    ipa = ["ab", "ab", "ba", "c", "dː", "dː", "dː"]
    # counts: a 3, b 3, dː 3, c 1 -> most frequent first, ties by name
    assert build_inventory(ipa, min_count=1) == ("a", "b", "dː", "c")
    assert build_inventory(ipa, min_count=2) == ("a", "b", "dː")
    assert build_inventory(ipa, min_count=4) == ()
    assert build_inventory(["aaa", "b"], min_count=1) == ("a", "b")


def test_phones_to_ids_is_one_based_and_skips_unknown() -> None:
    inventory = ("a", "b", "dː")
    assert phones_to_ids(["a", "dː", "x", "b", "a"], inventory) == [1, 3, 2, 1]
    assert phones_to_ids([], inventory) == []


@pytest.mark.parametrize(
    "path, out",
    [
        ([0, 1, 1, 0, 1, 2, 2, 0, 0], [1, 1, 2]),  # a blank separates a repeated label
        ([1, 1, 1], [1]),
        ([0, 0, 0], []),
        ([], []),
        ([3, 0, 3, 3, 2], [3, 3, 2]),
    ],
)
def test_ctc_greedy(path: list[int], out: list[int]) -> None:
    assert ctc_greedy(path) == out


@pytest.mark.parametrize(
    "a, b, d",
    [
        ("kitten", "sitting", 3),
        ("", "abc", 3),
        ("abc", "", 3),
        ("abc", "abc", 0),
        ("abc", "acb", 2),
        (["t͡ʃ", "iː"], ["t͡ʃ", "i"], 1),
    ],
)
def test_edit_distance(a, b, d: int) -> None:
    assert edit_distance(list(a), list(b)) == d
    assert edit_distance(list(b), list(a)) == d
