"""Sentence/clause splitting, whole and incremental (text arriving in pieces)."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowtts.errors import FlowTTSError
from flowtts.text import IncrementalSplitter, split_sentences


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("Dr. Smith paid $3.50. He left.", ["Dr. Smith paid $3.50.", "He left."]),
        ("Pi is 3.14. Right?", ["Pi is 3.14.", "Right?"]),
        ("Use e.g. the docs. Or i.e. Fred.", ["Use e.g. the docs.", "Or i.e. Fred."]),
        (
            "I live in the U.S. and like it. The U.S. Army is big.",
            ["I live in the U.S. and like it.", "The U.S. Army is big."],
        ),
        ("We flew to the U.S. Then home.", ["We flew to the U.S.", "Then home."]),
        ("See https://example.com/a.b?x=1. Next.", ["See https://example.com/a.b?x=1.", "Next."]),
        ("Mail jane.doe@example.org. Thanks.", ["Mail jane.doe@example.org.", "Thanks."]),
        ("At 5 p.m. The end.", ["At 5 p.m.", "The end."]),
        ("At 5 p.m. sharp.", ["At 5 p.m. sharp."]),
        ("Apples, pears, etc. Then more.", ["Apples, pears, etc.", "Then more."]),
        ("J. K. Rowling wrote it. St. Louis is far.", ["J. K. Rowling wrote it.", "St. Louis is far."]),
        ("Page No. 5 is gone.", ["Page No. 5 is gone."]),
        ("Really?! Yes!! OK.", ["Really?!", "Yes!!", "OK."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("Wait... what? Well... Fine.", ["Wait... what?", "Well...", "Fine."]),
        ("No punctuation\n\nNew paragraph", ["No punctuation", "New paragraph"]),
        ("one line\nsame sentence.", ["one line\nsame sentence."]),
        ("", []),
        ("   ", []),
    ],
)
def test_english_sentences(text: str, units: list[str]) -> None:
    assert split_sentences(text, "en") == units


@pytest.mark.parametrize(
    ("lang", "text", "units"),
    [
        (
            "de",
            "Am 3. Mai kam er. Er wurde 3. Das war gut.",
            ["Am 3. Mai kam er.", "Er wurde 3.", "Das war gut."],
        ),
        ("de", "Das ist z.B. gut. Nr. 5 auch.", ["Das ist z.B. gut.", "Nr. 5 auch."]),
        ("fr", "M. Dupont arrive. Il a 3,5 ans.", ["M. Dupont arrive.", "Il a 3,5 ans."]),
        (
            "es",
            "¿Qué hora es? Son las 3. Sr. García llegó.",
            ["¿Qué hora es?", "Son las 3.", "Sr. García llegó."],
        ),
        ("hi", "मेरा नाम राम है। आप कैसे हैं?", ["मेरा नाम राम है।", "आप कैसे हैं?"]),
        ("ar", "ما اسمك؟ اسمي علي.", ["ما اسمك؟", "اسمي علي."]),
    ],
)
def test_other_languages(lang: str, text: str, units: list[str]) -> None:
    assert split_sentences(text, lang) == units


def test_incremental_emits_only_when_certain() -> None:
    s = IncrementalSplitter("en")
    assert s.push("Dr.") == []
    assert s.push(" Smith paid 3.") == []  # "3." may be "3.5"
    assert s.push("5 dollars. ") == []  # the next word may be lower-case: not yet certain
    assert s.push("He") == ["Dr. Smith paid 3.5 dollars."]
    assert s.push(" shouted! ") == ["He shouted!"]  # "!" + space is enough
    assert s.push("Then e.g.") == []
    assert s.push(" the") == []
    assert s.flush() == ["Then e.g. the"]
    assert s.pending() == "" and s.flush() == []


def test_flush_keeps_the_splitter_reusable() -> None:
    s = IncrementalSplitter("en")
    s.push("First turn without a period")
    assert s.flush() == ["First turn without a period"]
    assert s.push("Second turn. And") == ["Second turn."]  # "." + space + capital: certain
    assert s.push(" more.") == []
    assert s.flush() == ["And more."]


def test_clauses_start_audio_early_without_tiny_units() -> None:
    text = "Well, when we finally arrived at the old station, the train had already left; we waited: long."
    units = split_sentences(text, "en", clauses=True, min_clause_chars=25)
    assert units == [
        "Well, when we finally arrived at the old station,",
        "the train had already left;",
        "we waited: long.",
    ]
    assert split_sentences("Hi, you, there.", "en", clauses=True, min_clause_chars=25) == ["Hi, you, there."]
    s = IncrementalSplitter("en", clauses=True, min_clause_chars=10)
    assert s.push("After the long meeting, ") == ["After the long meeting,"]


def test_max_chars_cuts_run_on_text_at_whitespace() -> None:
    text = "word " * 30
    units = split_sentences(text, "en", max_chars=40)
    assert all(len(u) <= 44 for u in units) and len(units) > 2
    assert " ".join(units).split() == text.split()


def test_unknown_language() -> None:
    with pytest.raises(FlowTTSError):
        IncrementalSplitter("xx")


PIECES = [
    "Dr.",
    " Smith",
    " paid",
    " $3.50",
    ".",
    " ",
    "  ",
    "He",
    " left",
    "!",
    "?",
    "...",
    " e.g.",
    " the",
    " U.S.",
    " The",
    " Army",
    " 3.",
    "5",
    " etc.",
    " Then",
    ",",
    ";",
    " example.com",
    "\n",
    "\n\n",
    '"',
    ")",
    " J.",
    " K.",
    " am",
    " 3.",
    " Mai",
    " p.m.",
    "…",
    "。",
    " और",
    "।",
    " a",
    " I",
    " Inc.",
]


@settings(
    max_examples=int(os.environ.get("FLOWTTS_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(st.sampled_from(PIECES), max_size=25).map("".join),
    st.data(),
    st.sampled_from(["en", "de"]),
    st.booleans(),
)
def test_any_chunking_gives_the_same_units(text: str, data: st.DataObject, lang: str, clauses: bool) -> None:
    whole = split_sentences(text, lang, clauses=clauses, min_clause_chars=8)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=10)))
    s = IncrementalSplitter(lang, clauses=clauses, min_clause_chars=8)
    units: list[str] = []
    for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True):
        units += s.push(text[a:b])
    units += s.flush()
    assert units == whole
    # Nothing is lost or invented: only whitespace between units goes.
    assert re.sub(r"\s", "", "".join(units)) == re.sub(r"\s", "", text)
    assert all(u == u.strip() and u for u in units)
