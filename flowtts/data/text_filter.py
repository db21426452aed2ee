"""Turn raw paragraphs into clean, speakable sentences: split, clean, filter, language-check, dedup.

Everything here is pure Python on strings, so it is tested without apt or the network. The rules follow
the corpus research (shared/research/corpus-sources.md §6): 20–220 characters, enough words, no code or
URL characters, few digits, a capital first letter and sentence-final punctuation (Latin scripts), a
wordlist language check, a script check for Arabic and Hindi, and a whole-word offensive-term blocklist.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Extractors put this character where they dropped inline code/literal markup, so the sentence that
# contained it is rejected instead of being read with a word silently missing. A private-use letter,
# because control characters such as \x1f count as whitespace and vanish in str.split().
CODE_MARK = "\ue000"

LATIN_LANGS = ("en", "fr", "de", "es", "it", "pt", "nl")
SCRIPT_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "ar": ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "hi": ((0x0900, 0x097F), (0xA8E0, 0xA8FF)),
}
# Share of tokens that must be in the language's wordlist. wspanish is small (86k words), so es gets
# a lower bar (the research measured 54 % more LibreOffice sentences at 0.6 with few false accepts).
LANG_THRESHOLD = {"es": 0.6}
DEFAULT_THRESHOLD = 0.75
SCRIPT_THRESHOLD = 0.9

MIN_CHARS, MAX_CHARS, MAX_DIGITS = 20, 220, 4
MIN_WORDS = {"ar": 3, "hi": 3}
DEFAULT_MIN_WORDS = 4

_BAD_CHARS = set("{}<>[]|\\_/=@#$%^*~+`&§") | {CODE_MARK}
_FINAL = ".!?…؟।"
_CLOSERS = "\"'»”’)"
_ENDS_RE = re.compile(rf"[{_FINAL}][{_FINAL}]*[{_CLOSERS}]*$")
_OPENERS = '¿¡"«„“‘('
_BOUNDARY_RE = re.compile(rf"[{_FINAL}]+[{_CLOSERS}]*(?=\s)")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# soft hyphens and zero-width spaces go; ZWJ/ZWNJ stay because Arabic and Hindi spelling uses them
_ZERO_WIDTH: dict[int, str | None] = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"), None)
_ZERO_WIDTH[ord("\u00a0")] = " "
# glued sentences ("house.”He", "path...undeterred"), code calls ("fork()"), dialogue joined across
# quotes ('--" "'), and trailing-off fragments ("Live from New York ...")
_GLUED = re.compile(r"\w\.{2,}\w|[a-z]{2}[.!?][\"”’»]?[A-Z]|\w\(\)|\" \"|--\"|\s(\.{3}|…)$")
_PRESENTATION = re.compile("[\ufb50-\ufdff\ufe70-\ufefe]+")
_SECTION_NUMBER = re.compile(r"\d+\.\d+\.\d+")
_LABEL = re.compile(r"^\S+:(\s|$)")
_SPACE_BEFORE = re.compile(r"\s+([.,])(?=\s|$)")
_TAG_RE = re.compile(r"<[^>]{0,200}>")

# Abbreviations after which a full stop does not end a sentence (lower case, without the final dot).
ABBREVIATIONS = frozenset(
    "mr mrs ms dr st prof jr sr vs etc e.g i.e cf fig no nr vol approx ca z.b bzw usw evtl ggf inkl "
    "s d.h u.a hr fr sra srta dña p.ej pág ej ecc sig sigg pag mme mlle m av n art cap dott ing "
    "blz bijv enz mevr dhr o.a m.a.w vgl mrd mio tsd std min max".split()
)


def normalize(text: str) -> str:
    """Unescape entities, drop tags and invisible characters, collapse whitespace, NFC-normalize."""
    text = html.unescape(text)
    text = _TAG_RE.sub(" ", text).translate(_ZERO_WIDTH)
    # Arabic presentation forms (ligatures such as ﻹ) are display glyphs; NFKC maps them to letters
    text = _PRESENTATION.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    # a space before a full stop or comma is a markup leftover ("<b>home</b> .") in every language
    text = _SPACE_BEFORE.sub(r"\1", " ".join(text.split()))
    return unicodedata.normalize("NFC", text)


def split_sentences(paragraph: str) -> list[str]:
    """Split a normalized paragraph on sentence-final punctuation, not after abbreviations/initials."""
    pieces, start = [], 0
    for m in _BOUNDARY_RE.finditer(paragraph):
        pieces.append(paragraph[start : m.end()])
        start = m.end()
    pieces.append(paragraph[start:])
    out: list[str] = []
    for piece in pieces:
        if out and _ends_with_abbreviation(out[-1]):
            out[-1] += piece  # the piece still has its leading space
        else:
            out.append(piece)
    return [s.strip() for s in out if s.strip()]


def _ends_with_abbreviation(text: str) -> bool:
    if not text.endswith("."):
        return False
    last = text.rsplit(" ", 1)[-1][:-1].lstrip(_OPENERS).lower()
    return (len(last) == 1 and last.isalpha()) or last in ABBREVIATIONS


def words(text: str) -> list[str]:
    """Alphabetic tokens (apostrophe contractions kept whole), in their original case."""
    return _WORD_RE.findall(text)


@dataclass(frozen=True)
class Wordlist:
    """A lower-cased word set for the wordlist language check."""

    lang: str
    words: frozenset[str]

    @classmethod
    def from_lines(cls, lang: str, lines: Iterable[str]) -> Wordlist:
        """Builds the set from dictionary lines (``/usr/share/dict`` style: one word per line)."""
        return cls(lang, frozenset(w.strip().lower() for w in lines if w.strip()))

    def knows(self, token: str) -> bool:
        """Whether a token is a word of the list; elisions (l'homme, don't) may match by parts."""
        low = token.lower().replace("’", "'")
        if low in self.words:
            return True
        parts = [p for p in low.split("'") if p]
        # short pieces are elided articles/pronouns (l', d', qu', 's, n't) that lists rarely carry alone
        return len(parts) > 1 and all(len(p) <= 3 or p in self.words for p in parts)

    def score(self, tokens: list[str]) -> float:
        """Share of tokens this list knows (0 for no tokens)."""
        return sum(self.knows(t) for t in tokens) / len(tokens) if tokens else 0.0


@dataclass(frozen=True)
class LanguageCheck:
    """Language check: wordlist scores for Latin scripts, share of letters in the script for ar/hi."""

    lang: str
    wordlist: Wordlist | None = None
    english: Wordlist | None = None  # None for en itself: no competitor to beat

    def accepts(self, text: str) -> bool:
        """Whether ``text`` reads as this language."""
        if self.lang in SCRIPT_RANGES:
            return script_share(text, self.lang) >= SCRIPT_THRESHOLD
        if self.wordlist is None:
            raise ValueError(f"no wordlist for {self.lang}")
        tokens = words(text)
        own = self.wordlist.score(tokens)
        if own < LANG_THRESHOLD.get(self.lang, DEFAULT_THRESHOLD):
            return False
        # crude language id: English UI strings inside a French help page score higher in English
        return self.english is None or own > self.english.score(tokens)


def script_share(text: str, lang: str) -> float:
    """Share of letters and combining marks of ``text`` that lie in ``lang``'s script blocks."""
    ranges = SCRIPT_RANGES[lang]
    letters = [c for c in text if unicodedata.category(c)[0] in "LM"]
    if not letters:
        return 0.0
    inside = sum(any(lo <= ord(c) <= hi for lo, hi in ranges) for c in letters)
    return inside / len(letters)


@dataclass(frozen=True)
class Blocklist:
    """Offensive terms matched as whole words, case-insensitively; ``term*`` matches a word prefix."""

    terms: tuple[str, ...] = ()
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Blocklist:
        """Parses a blocklist file's lines; ``#`` starts a comment, blank lines are skipped."""
        terms = tuple(t for t in (line.split("#", 1)[0].strip() for line in lines) if t)
        return cls(terms, _compile_terms(terms))

    @classmethod
    def from_file(cls, path: Path) -> Blocklist:
        """Reads a UTF-8 blocklist file (one term per line)."""
        return cls.from_lines(path.read_text(encoding="utf-8").splitlines())

    def hits(self, text: str) -> bool:
        """Whether ``text`` contains a blocked term as a whole word."""
        return bool(self._pattern and self._pattern.search(unicodedata.normalize("NFC", text)))


# Word characters for blocklist boundaries: \w misses Arabic harakat and Devanagari vowel signs
# (combining marks), which would otherwise let "चूत" match inside a longer word.
_WORD_CHARS = r"\w\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0900-\u0963\u0966-\u097f"


def _compile_terms(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    if not terms:
        return None
    alts = []
    for term in sorted(set(terms), key=len, reverse=True):
        body = re.escape(unicodedata.normalize("NFC", term.rstrip("*"))).replace(r"\ ", r"\s+")
        alts.append(body + (f"[{_WORD_CHARS}]*" if term.endswith("*") else ""))
    return re.compile(f"(?<![{_WORD_CHARS}])(?:{'|'.join(alts)})(?![{_WORD_CHARS}])", re.IGNORECASE)


def shape_ok(text: str, lang: str) -> bool:
    """Length, word count, characters, digits, capitalisation and punctuation rules (no language)."""
    if not MIN_CHARS <= len(text) <= MAX_CHARS:
        return False
    if len(text.split()) < MIN_WORDS.get(lang, DEFAULT_MIN_WORDS):
        return False
    if any(c in _BAD_CHARS or unicodedata.category(c) == "Cc" for c in text):
        return False
    if "://" in text or "www." in text.lower() or sum(c.isdigit() for c in text) > MAX_DIGITS:
        return False
    if not _ENDS_RE.search(text) or text.endswith((":.", ",.")):
        return False
    if lang in LATIN_LANGS and not _starts_upper(text):
        return False
    if _GLUED.search(text) or text.count(" - ") >= 2:  # " - " twice: LibreOffice menu paths
        return False
    if _LABEL.match(text):  # "Q: Why…", "Walt: Dad…", "Count: returns…" are labels or dialogue
        return False
    # cross-references ("Section 9.4.6"), UI labels that open a dialog ("Add keyword…") and
    # fragments cut at an abbreviation ("ist 100 Mrd.") are not sentences to read
    if _SECTION_NUMBER.search(text) or text.endswith("…") or _ends_with_abbreviation(text):
        return False
    return _balanced(text) and not _has_shouting(text)


def _starts_upper(text: str) -> bool:
    body = text.lstrip(_OPENERS)
    return bool(body) and body[0].isupper()


def _balanced(text: str) -> bool:
    # German quotes „…“, English “…”; both open and close in equal numbers, straight ones in pairs
    pairs = (("(", ")"), ("«", "»"), ("„", "“") if "„" in text else ("“", "”"))
    return text.count('"') % 2 == 0 and all(text.count(a) == text.count(b) for a, b in pairs)


_OPEN_QUOTES = '“‘„«"'
_TRAILING_CLOSERS = re.compile(rf"(?<=[{_FINAL}])[\"”’»“]+$")


def trim_quotes(text: str) -> str:
    """Drops quote marks left dangling by sentence splitting (a quotation spanning sentences).

    '“I will set my glory among the nations.' becomes 'I will set my glory among the nations.'; quotes
    are not spoken, so nothing is lost. Text whose quotes cannot be balanced this way is unchanged.
    """
    if _balanced(text):
        return text
    lead = text.lstrip(_OPEN_QUOTES)
    tail = _TRAILING_CLOSERS.sub("", text)
    both = _TRAILING_CLOSERS.sub("", lead)
    for candidate in (lead, tail, both):
        if candidate != text and _balanced(candidate):
            return candidate
    return text


_IT_ACCENT = re.compile(r"(?<=\w)([aeiouAEIOU])'(?=[\s.,;:!?)]|$)")
_IT_ACUTE = re.compile(r"\b(perch|poich|affinch|benz|finch|sicch|purch|n|s)è\b", re.IGNORECASE)
_GRAVE = dict(zip("aeiouAEIOU", "àèìòùÀÈÌÒÙ", strict=True))


def fix_italian_accents(text: str) -> str:
    """Old ASCII Italian writes accents as apostrophes ("puo'", "E' vero"); restore the letters.

    A vowel + apostrophe before a space or punctuation is an accent (an elision such as "l'" is
    followed by a letter); "-ché" words take the acute accent.
    """
    text = _IT_ACCENT.sub(lambda m: _GRAVE[m.group(1)], text)
    text = re.sub(r"(?<![\w'])([Ee])'(?=\s)", lambda m: "È" if m.group(1) == "E" else "è", text)
    return _IT_ACUTE.sub(lambda m: m.group(1) + "é", text)


def _has_shouting(text: str) -> bool:
    # long all-capital tokens are headers, constants or shouting, not something to read aloud
    return any(len(w) >= 5 and w.isupper() for w in words(text))


def dedup_key(text: str) -> str:
    """Case- and whitespace-insensitive identity of a sentence."""
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class SentenceFilter:
    """All sentence rules of one language; ``accept`` is the single entry point."""

    lang: str
    check: LanguageCheck
    blocklist: Blocklist = field(default_factory=Blocklist)

    def accept(self, text: str) -> bool:
        """Whether a cleaned, split sentence is kept."""
        return shape_ok(text, self.lang) and not self.blocklist.hits(text) and self.check.accepts(text)

    def sentences(self, paragraphs: Iterable[str]) -> Iterator[str]:
        """Normalized, split and accepted sentences of raw paragraphs (not yet deduplicated)."""
        for para in paragraphs:
            for sent in split_sentences(normalize(para)):
                sent = trim_quotes(fix_italian_accents(sent) if self.lang == "it" else sent)
                if self.accept(sent):
                    yield sent


def dedup(items: Iterable[str]) -> list[str]:
    """The items in order, keeping the first of each case/whitespace-insensitive duplicate."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = dedup_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
