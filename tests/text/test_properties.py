"""Property tests of the normalizer: it never raises, it is idempotent, and no number is dropped.

"No digit dropped" is checked two ways, both able to fail:

- no character with a digit value (ASCII, Arabic-Indic, Devanagari, full-width, ...) survives;
- every group of digits that says something (``\\d+`` joined by "." "," ":", with a non-zero digit)
  becomes at least one word. Inputs are numbers in many formats separated by a marker word, and the
  check is made segment by segment between markers: in English the words must be number words (so
  reading "#5" as "" or "5 km" as "km" fails); in every language at least one word per group.
  ``test_the_property_catches_dropped_numbers`` shows the check failing on broken normalizers.
"""

from __future__ import annotations

import os
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowtts.text import SUPPORTED_LANGUAGES, normalize

# Moderate by default so the suite stays fast; FLOWTTS_HYPOTHESIS_EXAMPLES=5000 for a deep run.
SETTINGS = settings(
    max_examples=int(os.environ.get("FLOWTTS_HYPOTHESIS_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Pieces that exercise every rule (and their interactions) when glued together at random.
PIECES = [
    "Dr.",
    "Mr",
    "St.",
    "U.S.",
    "e.g.",
    "a.m.",
    "p.m.",
    "etc.",
    "No.",
    "vs",
    "z.B.",
    "Mme",
    "M.",
    "Sr.",
    "3",
    "3.5",
    "3,5",
    "1,000",
    "1.000",
    "1 000",
    "12:30",
    "14h30",
    "0",
    "07",
    "1999",
    "2021",
    "1990s",
    "1st",
    "1er",
    "2e",
    "1º",
    "1ª",
    "°C",
    "%",
    "$",
    "€",
    "£",
    "₹",
    "R$",
    "#",
    "&",
    "@",
    "+",
    "=",
    "~",
    "<",
    "-",
    "–",
    "—",
    "/",
    ":",
    ".",
    ",",
    "?",
    "!",
    "¿",
    "(",
    ")",
    "'",
    '"',
    "…",
    "...",
    "\n\n",
    " ",
    "FBI",
    "NASA",
    "IV",
    "XXe",
    "Chapter",
    "Henry",
    "the",
    "cat",
    "x",
    "km",
    "km/h",
    "^2",
    "½",
    "March",
    "März",
    "mars",
    "Uhr",
    "uur",
    "example.com",
    "www.",
    "https://",
    "jane@x.org",
    "v1.2.3",
    "14.03.2021",
    "2021-03-14",
    "3/14/2015",
    "٣",
    "١٢",
    "٫",
    "१",
    "३४",
    "।",
    "बजे",
    "كتاب",
    "हिंदी",
    "é",
    "\u0301",
    "\u200c",
    "\x00",
    "ＡＢ",
    "１２",
]
soup = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
spaced_soup = st.lists(st.sampled_from(PIECES), max_size=14).map(" ".join)
any_text = st.one_of(st.text(max_size=60), soup, spaced_soup)
languages = st.sampled_from(SUPPORTED_LANGUAGES)


def has_digit(text: str) -> bool:
    return any(unicodedata.digit(c, None) is not None for c in text)


@SETTINGS
@given(any_text, languages)
def test_never_raises_and_leaves_no_digit(text: str, lang: str) -> None:
    out = normalize(text, lang)
    assert isinstance(out, str)
    assert not has_digit(out), out


@SETTINGS
@given(any_text, languages)
def test_idempotent(text: str, lang: str) -> None:
    once = normalize(text, lang)
    assert normalize(once, lang) == once


# --- "every digit group is verbalized" -----------------------------------------------------------------

_UNITS = (
    "zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
    "thousand million billion trillion"
).split()
_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth fortieth "
    "fiftieth sixtieth seventieth eightieth ninetieth hundredth thousandth millionth"
).split()
_MONTHS = ("january february march april may june july august september october november december").split()
NUMBER_WORDS = frozenset(
    _UNITS
    + _ORDINALS
    + _MONTHS
    + [w + "s" for w in _UNITS + _ORDINALS]
    + [w[:-1] + "ies" for w in _UNITS if w.endswith("y")]
    + ["half", "halves", "quarter", "quarters", "o'clock"]
)


def count_number_words(text: str) -> int:
    parts = re.split(r"[\s-]+", text.lower())
    return sum(1 for p in parts if p.strip(".,?!;:") in NUMBER_WORDS)


def count_digit_groups(text: str) -> int:
    """Groups of digits joined by . , : that contain a non-zero digit ("3.50" is one, "00" is none)."""
    return sum(1 for g in re.findall(r"\d+(?:[.,:]\d+)*", text) if re.search(r"[1-9]", g))


digits_ = st.text("0123456789", min_size=1, max_size=7)
number_token = st.one_of(
    digits_,
    st.integers(0, 10**9).map("{:,}".format),
    st.builds("{}.{}".format, digits_, digits_),
    st.builds("{}:{:02d}".format, st.integers(0, 30), st.integers(0, 70)),
    st.builds("{}/{}".format, st.integers(0, 40), st.integers(0, 40)),
    st.builds("{}/{}/{}".format, st.integers(1, 31), st.integers(1, 31), st.integers(0, 2100)),
    st.builds("{}-{:02d}-{:02d}".format, st.integers(1000, 2100), st.integers(0, 13), st.integers(0, 32)),
    st.builds("{}-{}".format, digits_, digits_),
    st.builds(
        "{}{}".format, digits_, st.sampled_from(["st", "nd", "rd", "th", "s", "x", "k", "m", "am", "pm"])
    ),
)
decoration = st.sampled_from(["", "", "$", "€", "#", "-", "~", "(", "No. ", "+", "'", "£", "ISO "])
suffix = st.sampled_from(["", "", "%", " km", " kg", "°C", ")", ".", ",", "?", " million", " people", "'s"])
decorated = st.builds(lambda a, b, c: a + b + c, decoration, number_token, suffix)
MARKER = "zebra"
sentence_of_numbers = st.lists(decorated, min_size=1, max_size=5).map(f" {MARKER} ".join)


def segments(text: str, out: str) -> list[tuple[str, str]] | None:
    """Pairs each input segment (numbers between marker words) with its output segment."""
    ins, outs = text.split(MARKER), out.split(MARKER)
    return list(zip(ins, outs, strict=True)) if len(ins) == len(outs) else None


def digit_groups_are_spoken(text: str, out: str) -> bool:
    """The English property, segment by segment: no digit left, and at least one number word per
    meaningful digit group (a lower bound per segment, so one long number cannot hide a lost one)."""
    pairs = segments(text, out)
    if has_digit(out) or pairs is None:
        return False
    return all(count_number_words(o) >= count_digit_groups(i) for i, o in pairs)


@SETTINGS
@given(sentence_of_numbers)
def test_english_digit_groups_become_number_words(text: str) -> None:
    out = normalize(text, "en")
    assert digit_groups_are_spoken(text, out), out


@SETTINGS
@given(
    st.lists(
        st.builds(
            lambda a, b, c: a + b + c,
            st.sampled_from(["", "", "-", "€", "n° "]),
            st.one_of(number_token, st.builds("{},{}".format, digits_, digits_)),
            st.sampled_from(["", "", "%", " %", "h", "e", ".", " Uhr", " km"]),
        ),
        min_size=1,
        max_size=5,
    ).map(f" {MARKER} ".join),
    languages,
)
def test_every_language_keeps_a_word_per_digit_group(text: str, lang: str) -> None:
    out = normalize(text, lang)
    pairs = segments(text, out)
    assert pairs is not None, out
    for i, o in pairs:
        words = [w for w in re.split(r"[\s،؛؟।॥.,?!;:]+", o) if w]
        assert len(words) >= count_digit_groups(i), (i, o)


@pytest.mark.parametrize(
    "broken",
    [
        lambda t: re.sub(r"\d", "", t),  # deletes digits
        lambda t: normalize(re.sub(r"#\d+", "number", t), "en"),  # loses "#5"
        lambda t: normalize(re.sub(r"(\d+)\s?km", "km", t), "en"),  # drops the amount before a unit
        lambda t: normalize(t.split(f" {MARKER} ")[0], "en"),  # drops everything after the first number
    ],
)
def test_the_property_catches_dropped_numbers(broken) -> None:
    """Guards the guard: normalizers that silently drop numbers fail the English property."""
    examples = ["#5 zebra 12.50 zebra 0", "5 km zebra 3", "zebra #12 zebra 7 km zebra 2021"]
    assert not all(digit_groups_are_spoken(t, broken(t)) for t in examples)
    assert all(digit_groups_are_spoken(t, normalize(t, "en")) for t in examples)


def test_counting_helpers() -> None:
    assert count_digit_groups("5 zebra 12.50 zebra 0 zebra 3:00") == 3
    assert count_number_words("zebra zebra") == 0
    assert count_number_words("twenty-one zebra March fifth, nineties.") == 5
