"""Number verbalization for every supported language: cardinals, ordinals, decimals, digit strings, years.

``num2words`` does en fr de es it pt nl ar; Hindi is ``numbers_hi``. On top of num2words this module
fixes what reads badly: English drops the British "and" and the commas ("one thousand, nine hundred
and ninety-nine" -> "one thousand nine hundred ninety-nine"), Arabic decimals are built here (num2words
says "ثلاثة , خمسون" for 3.5), Arabic "و" is attached to the next word as written Arabic does, Dutch
"honderdéén" becomes "honderdeen". All functions take and return plain strings; none raises on a
digit string of any length (past ``MAX_CARDINAL`` numbers are read digit by digit).
"""

from __future__ import annotations

import functools
import re

from flowtts.text.languages import language
from flowtts.text.numbers_hi import hindi_cardinal, hindi_ordinal, hindi_year

# Above this, num2words' scale words get exotic ("one quadrillion", "un billiard"): read the digits.
MAX_CARDINAL = 10**15
# Plain digit runs longer than this (no thousands separators) are codes, not amounts: read the digits.
MAX_PLAIN_DIGITS = 9


@functools.lru_cache(maxsize=1)
def _num2words():
    from num2words import num2words  # imported on first use: keeps `import flowtts.text` cheap

    return num2words


def _tidy(words: str, lang: str) -> str:
    """Makes num2words output read the way this frontend wants (see the module docstring)."""
    if lang == "en":
        words = words.replace(",", "").replace(" and ", " ")
    elif lang == "ar":
        words = re.sub(r"(^|\s)و\s+", r"\1و", words)
    elif lang == "nl":
        words = re.sub(r"(?<=\w)één", "een", words)
    return " ".join(words.split())


@functools.lru_cache(maxsize=4096)
def cardinal(n: int, lang: str) -> str:
    """Cardinal words for an integer, e.g. (21, "fr") -> "vingt et un", (-7, "en") -> "minus seven"."""
    if n < 0:
        return f"{language(lang).minus} {cardinal(-n, lang)}"
    if n >= MAX_CARDINAL:
        return digits(str(n), lang)
    if lang == "hi":
        return hindi_cardinal(n)
    return _tidy(_num2words()(n, lang=lang), lang)


def digits(s: str, lang: str) -> str:
    """Reads a digit string one digit at a time: "007" -> "zero zero seven"."""
    return " ".join(cardinal(int(c), lang) for c in s if c.isdigit())


def _feminine_romance(words: str) -> str:
    """es/it/pt feminine ordinal: each word's final -o becomes -a ("primero" -> "primera")."""
    return re.sub(r"o\b", "a", words)


@functools.lru_cache(maxsize=4096)
def ordinal(n: int, lang: str, gender: str = "m") -> str:
    """Ordinal words, e.g. (3, "en") -> "third", (1, "fr", "f") -> "première", (2, "it") -> "secondo".

    ``gender`` is "m" or "f" and matters for fr (1 only), es, it, pt. German case endings are the
    caller's business (``german_ordinal``). Numbers past ``MAX_CARDINAL`` fall back to digits.
    """
    if n < 0 or n >= MAX_CARDINAL:
        return cardinal(n, lang)
    if lang == "hi":
        return hindi_ordinal(n)
    if lang == "fr" and n == 1:
        return "première" if gender == "f" else "premier"
    try:
        words = _tidy(_num2words()(n, lang=lang, to="ordinal"), lang)
    except (NotImplementedError, OverflowError, TypeError, ValueError):
        return cardinal(n, lang)
    if gender == "f" and lang in ("es", "it", "pt"):
        words = _feminine_romance(words)
    return words


def german_ordinal(n: int, ending: str) -> str:
    """German ordinal with an adjective ending: "e" (der dritte), "en" (am dritten), "er" (dritter)."""
    base = ordinal(n, "de")  # "dritte", "zwanzigste"
    stem = base[:-1] if base.endswith("e") else base
    return stem + ending


def spanish_short_ordinal(n: int) -> str:
    """Spanish ordinal before a masculine noun: "1er" -> "primer", "3er" -> "tercer"."""
    words = ordinal(n, "es")
    return re.sub(r"(primer|tercer)o\b", r"\1", words)


def decimal(int_part: str, frac: str, lang: str) -> str:
    """A decimal number from its digit strings: ("9", "2", "en") -> "nine point two".

    The fraction is read digit by digit ("3.14" -> "three point one four") except in languages that
    read a short fraction as a number ("3,14" -> "trois virgule quatorze"); a fraction with a leading
    zero is always read digit by digit ("3,05" -> "trois virgule zéro cinq"). An empty integer part
    (".5") is "point five" in English and "zéro virgule cinq" elsewhere.
    """
    data = language(lang)
    if int_part:
        head = integer_string(int_part, lang)
    else:
        head = "" if lang == "en" else cardinal(0, lang)
    if data.frac_as_number and len(frac) <= 2 and not frac.startswith("0"):
        tail = cardinal(int(frac), lang)
    else:
        tail = digits(frac, lang)
    return " ".join(p for p in (head, data.decimal_word, tail) if p)


def integer_string(s: str, lang: str) -> str:
    """Reads a run of digits as a person would: a number, or digit by digit for codes.

    Leading zeros ("007") and runs longer than ``MAX_PLAIN_DIGITS`` digits are read digit by digit;
    everything else is a cardinal. Separators must already be removed.
    """
    if len(s) > 1 and s.startswith("0") or len(s) > MAX_PLAIN_DIGITS:
        return digits(s, lang)
    return cardinal(int(s), lang)


def _english_year(n: int) -> str:
    """1999 -> "nineteen ninety-nine", 1905 -> "nineteen oh five", 2005 -> "two thousand five"."""
    if n % 1000 == 0 or 2000 <= n <= 2009 or 1000 <= n <= 1009 or not 1000 <= n <= 9999:
        return cardinal(n, "en")
    head, tail = divmod(n, 100)
    if tail == 0:
        return f"{cardinal(head, 'en')} hundred"
    if tail < 10:
        return f"{cardinal(head, 'en')} oh {cardinal(tail, 'en')}"
    return f"{cardinal(head, 'en')} {cardinal(tail, 'en')}"


@functools.lru_cache(maxsize=4096)
def year(n: int, lang: str) -> str:
    """A year as people say it: en "twenty twenty-one", de "neunzehnhundertneunundneunzig", hi "उन्नीस सौ
    निन्यानवे"; languages that say years like ordinary numbers (fr es it pt ar) get the cardinal."""
    if n < 0:
        return cardinal(n, lang)
    if lang == "en":
        return _english_year(n)
    if lang == "hi":
        return hindi_year(n)
    if lang in ("de", "nl") and 1100 <= n <= 1999:
        return _tidy(_num2words()(n, lang=lang, to="year"), lang).replace(" ", "")
    return cardinal(n, lang)


def plural_english(words: str) -> str:
    """Plural of the last number word, for decades and fractions: "ninety" -> "nineties",
    "third" -> "thirds", "nineteen hundred" -> "nineteen hundreds"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    return words + "s"
