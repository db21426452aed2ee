"""The phoneme frontend: espeak-ng phone units with stress, word boundaries and clause punctuation; the
inventory (ids after the pieces', saved and loaded) and the tokenizer that reads phones."""

from __future__ import annotations

import shutil

import pytest

from flowtts.errors import FlowTTSError
from flowtts.text.phonemes import WORD, PhonemeInventory, PhonemeTokenizer, phoneme_units
from flowtts.text.tokenizer import Tokenizer, TokenizerConfig
from tests.model.helpers import TINY_SENTENCES

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def pieces(tmp_path_factory) -> Tokenizer:
    return Tokenizer.train(TINY_SENTENCES, tmp_path_factory.mktemp("tok") / "t.model", TokenizerConfig(400))


def test_units_have_phones_stress_word_boundaries_and_clause_marks() -> None:
    units = phoneme_units("The sun was shining, she said.", "en")
    assert units[:8] == ["ð", "ə", WORD, "s", "ˈ", "ʌ", "n", WORD]  # "the sun": espeak's IPA, phone by phone
    assert units.count(",") == 1 and units[-1] == "."
    words = [u for u in units if u == WORD]
    assert len(words) == 6  # one boundary after each word (espeak keeps these six apart)
    assert phoneme_units("Really?", "en")[-1] == "?"
    assert phoneme_units("", "en") == [] and phoneme_units(" , ", "en") == []  # no phones: no marks either


def test_units_are_those_of_every_language() -> None:
    fr = phoneme_units("Bonjour, comment allez-vous ?", "fr")
    assert "ɔ̃" in fr and fr[-1] == "?" and "," in fr


def test_the_inventory_puts_units_after_the_pieces_and_round_trips(tmp_path, pieces) -> None:
    texts = [("en", "The sun was shining."), ("en", "The sea was calm."), ("en", "The sun set.")]
    inventory = PhonemeInventory.build(texts, offset=pieces.vocab_size, min_count=2)
    assert inventory.units[0] in ("ð", "ə", WORD)  # the most frequent first
    assert inventory.vocab_size == pieces.vocab_size + len(inventory.units)
    path = tmp_path / "phonemes.json"
    inventory.save(path)
    assert PhonemeInventory.load(path) == inventory
    tok = PhonemeTokenizer(pieces, inventory)
    ids = tok.encode("The sun was shining.", "en")
    assert ids[0] == pieces.lang_id("en") and all(pieces.vocab_size <= i < tok.vocab_size for i in ids[1:])
    assert tok.specials == pieces.specials
    # a unit the inventory lacks (seen fewer than min_count times) is dropped, not an error
    assert len(tok.encode("Zebra!", "en")) < 1 + len(phoneme_units("Zebra!", "en"))


def test_a_mismatched_or_broken_inventory_is_one_error(tmp_path, pieces) -> None:
    with pytest.raises(FlowTTSError, match="made for a tokenizer of 7 pieces"):
        PhonemeTokenizer(pieces, PhonemeInventory(("a",), offset=7))
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(FlowTTSError, match="not a phoneme inventory"):
        PhonemeInventory.load(bad)
    with pytest.raises(FlowTTSError, match="no phones"):
        PhonemeInventory.build([("en", "")], offset=1)
