"""Word-level rules shared by all languages: dotted abbreviations, single-word abbreviations,
acronyms and SHOUTED text.

``expand_dotted`` runs while the text still has its original periods (before ``canonical``);
``expand_abbreviations`` and ``spell_acronyms`` run on canonical text and produce text they do not
change again (a spelled acronym is single letters; an expansion has no period), which is part of
what keeps ``normalize`` idempotent.
"""

from __future__ import annotations

import functools
import re

from flowtts.text.abbreviations import DOTTED, SENTENCE_STARTERS, abbreviations
from flowtts.text.languages import language

_LETTER = r"[^\W\d_]"

# Acronyms read as words, not letters. Small on purpose: any other token of two or three capitals, or
# of four or five without a vowel, is spelled, which is right far more often than not; longer
# all-capital tokens are kept as words (emphasis, names).
WORD_ACRONYMS = frozenset(
    "NASA NATO UNESCO UNICEF OPEC FIFA UEFA NASDAQ LASER RADAR SCUBA COVID AIDS GIF JPEG PIN SIM ZIP "
    "NAFTA OSHA FEMA NASCAR IKEA LEGO ROM RAM SWAT POTUS SCOTUS CAPTCHA WASP MERCOSUR INTERPOL EFTA "
    "ASEAN ISO OK".split()
)
# Four- and five-letter initialisms that contain vowels but are spelled when read.
_SPELLED = frozenset("USSR ESPN NCAA UCLA ASAP IEEE AARP OECD AMEX NYSE".split())
_VOWELS = set("AEIOUÀÁÂÄÈÉÊËÌÍÎÏÒÓÔÖÙÚÛÜ")


def _next_word(text: str, end: int) -> str:
    """The word that follows position ``end`` after whitespace ("" at the end or before punctuation)."""
    m = re.match(rf"\s+({_LETTER}[\w'-]*)", text[end:])
    return m.group(1) if m else ""


def _at_end(text: str, end: int) -> bool:
    return not text[end:].strip()


def _starts_sentence(word: str, lang: str) -> bool:
    return word in SENTENCE_STARTERS.get(lang, frozenset())


@functools.lru_cache(maxsize=16)
def _dotted_pattern(lang: str) -> re.Pattern | None:
    keys = sorted(DOTTED.get(lang, {}), key=len, reverse=True)
    if not keys:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(k) for k in keys) + r")(?!\w)")


def _keep_period(text: str, end: int, lang: str) -> str:
    """ "." when the abbreviation's period also ends the sentence: end of text or a typical opener."""
    return "." if _at_end(text, end) or _starts_sentence(_next_word(text, end), lang) else ""


def _initialism(m: re.Match, lang: str) -> str:
    letters = " ".join(m.group(1).replace(".", ""))
    return f" {letters}{_keep_period(m.string, m.end(), lang)} "


def expand_dotted(text: str, lang: str) -> str:
    """Dotted abbreviations ("e.g.", "z.B."), initialisms ("U.S.", "a.m." -> "U S", "a m") and
    "word.word" joins. Runs before ``canonical``, while the periods are still as written, and again on
    canonical text, where the spaced forms ("z. B.") may only then have appeared."""
    pattern = _dotted_pattern(lang)
    if pattern is not None:
        table = DOTTED[lang]
        text = pattern.sub(
            lambda m: (
                f" {table[m.group(0)]}"
                + (_keep_period(m.string, m.end(), lang) if m.group(0).endswith(".") else "")
                + " "
            ),
            text,
        )
    text = re.sub(rf"(?<!\w)((?:{_LETTER}\.){{2,}})(?!\w)", lambda m: _initialism(m, lang), text)
    dot = language(lang).url_words["."]

    def join(m: re.Match) -> str:
        left, right = m.group(1), m.group(2)
        if left.islower() and right.islower():
            return f"{left} {dot} {right}"
        return f"{left}. {right}"

    # Overlapping chains ("a.bc.de") are handled by repeating until nothing matches.
    pattern_join = re.compile(rf"(?<![\w.])({_LETTER}{{2,}})\.({_LETTER}{{2,}})(?![\w])")
    while True:
        new = pattern_join.sub(join, text)
        if new == text:
            return text
        text = new


@functools.lru_cache(maxsize=16)
def _abbrev_pattern(lang: str) -> tuple[re.Pattern | None, dict]:
    table = {a.text: a for a in abbreviations(lang)}
    if not table:
        return None, table
    keys = sorted(table, key=len, reverse=True)
    alternation = "|".join(re.escape(k) for k in keys)
    return re.compile(rf"(?<![\w'.-])({alternation})(\.)?(?![\w'-])"), table


def _expand_one(m: re.Match, table: dict, lang: str) -> str:
    """Decides one abbreviation in context (see ``abbreviations`` for the kinds)."""
    abbr = table[m.group(1)]
    has_period = m.group(2) is not None
    if not has_period and abbr.needs_period:
        return m.group(0)
    text, end = m.string, m.end()
    nxt = _next_word(text, end)
    prev = re.search(rf"({_LETTER})[\w'-]*[^\w\s]*\s+$", text[: m.start()])
    prev_cap = bool(prev) and prev.group(1).isupper()
    period = "." if has_period and (_at_end(text, end) or _starts_sentence(nxt, lang)) else ""
    if abbr.kind == "title":
        if nxt[:1].isupper() and not (abbr.alt and prev_cap and _starts_sentence(nxt, lang)):
            return abbr.expansion
        if abbr.alt and prev_cap:
            return abbr.alt + period
        if has_period and not abbr.alt:
            return abbr.expansion  # "Mr. and Mrs. Smith": with its period a title is unambiguous
        return m.group(0)
    if abbr.kind == "final" and has_period and nxt[:1].isupper() and abbr.text in ("etc", "usw", "enz"):
        period = "."  # after "etc." a capitalized word nearly always starts a new sentence
    return abbr.expansion + period


def expand_abbreviations(text: str, lang: str) -> str:
    """Expands single-word abbreviations in canonical text: "Dr. Smith" -> "Doctor Smith",
    "apples, pears, etc. Then" -> "apples, pears, et cetera. Then"."""
    pattern, table = _abbrev_pattern(lang)
    if pattern is None:
        return text
    return pattern.sub(lambda m: _expand_one(m, table, lang), text)


def _is_shouting(tokens: list[str]) -> bool:
    """Most words in capitals (and enough of them) means emphasis or a title, not acronyms."""
    caps = sum(1 for t in tokens if _is_caps(t))
    return caps >= 4 and caps > 0.5 * len(tokens)


def _spell(token: str, lang: str) -> str:
    """How one all-capitals token is read: kept as a word or spelled letter by letter."""
    plural = token.endswith("s") and token[:-1].isupper()
    core = token[:-1] if plural else token
    stop = language(lang).uppercase_stopwords
    if core in WORD_ACRONYMS or core in stop or len(core) >= 6:
        return token
    spelled = len(core) <= 3 or core in _SPELLED or not (_VOWELS & set(core))
    if not spelled:
        return token
    return " ".join(core) + ("'s" if plural else "")


def spell_acronyms(text: str, lang: str) -> str:
    """Spells initialisms letter by letter ("FBI" -> "F B I", "CDs" -> "C D's") and keeps word-like
    acronyms ("NASA"). When most of the text is in capitals it is shouting, and it is lower-cased
    instead so that "THIS IS BIG NEWS" is not spelled out."""
    word = re.compile(rf"(?<![\w'])({_LETTER}{{2,}})(?![\w'])")
    tokens = word.findall(text)
    if _is_shouting(tokens):
        return word.sub(lambda m: m.group(1).lower() if _is_caps(m.group(1)) else m.group(1), text)
    return word.sub(lambda m: _spell(m.group(1), lang) if _is_caps(m.group(1)) else m.group(1), text)


def _is_caps(token: str) -> bool:
    """All capitals, or the plural of all capitals ("CDs")."""
    return token.isupper() or len(token) >= 3 and token.endswith("s") and token[:-1].isupper()
