"""Sentence and clause splitting for text that arrives in pieces (the streaming TTS input).

A WebSocket client appends text pieces; ``IncrementalSplitter.push`` returns each sentence as soon as
it is *certainly* complete, and ``flush`` returns the rest. "Certainly" means the decision can no
longer change whatever text comes next, so splitting a text in one go and splitting it piece by
piece give the same units (``tests/text/test_splitter.py`` checks this on random cuts). In practice:

- "!" "?" (and "।", "؟") end a sentence once whitespace follows; CJK "。！？" end it at once.
- "." (and "…") needs the next non-space character: a lower-case letter or more punctuation means
  the sentence goes on ("e.g. the", "approx. five", ". . ."); so does a period with no space after
  it ("3.5", "U.S.A", "example.com/a.b"). After a title or an inline abbreviation ("Dr.", "vs.",
  "z.B.") or a single capital initial ("J. K. Rowling") it never ends a sentence; after an
  initialism ("U.S.", "a.m.") or a "final" abbreviation ("etc.", "Inc.") it ends one only when the
  next word is a typical sentence opener ("U.S. The" splits, "U.S. Army" does not).
- A blank line ends a unit whatever its punctuation.
- Optionally (``clauses=True``) ",", ";", ":" and dashes followed by whitespace also end a unit once
  it has at least ``min_clause_chars`` characters, so that the first audio can start early without
  producing tiny fragments; ``max_chars`` forces a cut at whitespace in run-on text.

Units are returned stripped, with their punctuation; whitespace between units is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flowtts.text.abbreviations import NUMBER_PREFIXES, SENTENCE_STARTERS, final_tokens, nonfinal_tokens
from flowtts.text.languages import language

_PERIODS = ".…"
_ENDERS = "!?؟।॥"  # end a sentence once whitespace follows
_CJK_ENDERS = "。！？"  # end a sentence at once: CJK puts no space after them
_TERMINALS = _PERIODS + _ENDERS + _CJK_ENDERS
_CLOSERS = "\"'”’»)]}"
_OPENERS = "\"'“‘«([{¿¡"
_CLAUSE_MARKS = ",;:،؛—–"
_INITIALISM = re.compile(r"(?:[^\W\d_]\.){2,}")
_DE_ORDINAL_BEFORE = frozenset("am im vom zum beim dem den des der die das bis ab seit".split())

_WAIT = None  # a decision that needs more text


@dataclass(frozen=True)
class SplitterConfig:
    """How ``IncrementalSplitter`` cuts text (see the module docstring)."""

    lang: str = "en"
    clauses: bool = False  # also cut at , ; : and dashes once a unit is long enough
    min_clause_chars: int = 30  # shortest unit a clause cut may produce
    max_chars: int | None = None  # cut at the next whitespace once a unit is this long (None: never)


class IncrementalSplitter:
    """Cuts text that arrives in pieces into sentences (or clauses) as soon as each is complete.

    >>> s = IncrementalSplitter("en")
    >>> s.push("Dr. Smith paid $3.")
    []
    >>> s.push("50 for it. Then he")
    ['Dr. Smith paid $3.50 for it.']
    >>> s.flush()
    ['Then he']
    """

    def __init__(
        self,
        lang: str = "en",
        *,
        clauses: bool = False,
        min_clause_chars: int = 30,
        max_chars: int | None = None,
    ) -> None:
        language(lang)  # validates
        self.config = SplitterConfig(lang, clauses, min_clause_chars, max_chars)
        self._nonfinal = nonfinal_tokens(lang)
        self._final = final_tokens(lang)
        self._starters = SENTENCE_STARTERS.get(lang, frozenset())
        self._buf = ""
        self._scan = 0  # every candidate before this index in _buf was decided "no cut"

    def push(self, piece: str) -> list[str]:
        """Appends ``piece`` and returns the units that are now certainly complete (maybe none)."""
        self._buf += piece
        return self._advance(final=False)

    def flush(self) -> list[str]:
        """Ends the input: returns every remaining unit and leaves the splitter empty and reusable."""
        units = self._advance(final=True)
        rest = self._buf.strip()
        self._buf, self._scan = "", 0
        return units + ([rest] if rest else [])

    def pending(self) -> str:
        """Text received but not yet returned as a unit."""
        return self._buf

    def _emit(self, end: int, skip: int = 0) -> str:
        """Cuts ``_buf[:end]`` off as a unit; ``skip`` more characters (a separator) are dropped."""
        unit = self._buf[:end].strip()
        self._buf = self._buf[end + skip :]
        self._scan = 0
        return unit

    def _advance(self, final: bool) -> list[str]:
        units: list[str] = []
        i = self._scan
        while i < len(self._buf):
            cut = self._candidate(i, final)
            if cut is _WAIT:
                break
            if cut:
                end, skip = cut
                unit = self._emit(end, skip)
                if unit:
                    units.append(unit)
                i = 0
                continue
            i += 1
        self._scan = i
        return units

    def _candidate(self, i: int, final: bool) -> tuple[int, int] | bool | None:
        """Whether a unit ends at or just after ``_buf[i]``: (end, skip), False, or _WAIT."""
        buf, c = self._buf, self._buf[i]
        if c in _TERMINALS:
            return self._after_terminal(i, final)
        if c == "\n":
            m = re.match(r"\n[ \t\r]*\n", buf[i:])
            if m:
                return i, m.end()
            return _WAIT if not final and not buf[i + 1 :].strip(" \t\r") else False
        cfg = self.config
        if cfg.clauses and c in _CLAUSE_MARKS:
            j = i + 1
            while j < len(buf) and buf[j] in _CLOSERS:
                j += 1
            if j == len(buf):
                return _WAIT if not final else False
            long_enough = j >= cfg.min_clause_chars and len(buf[:j].strip()) >= cfg.min_clause_chars
            return (j, 0) if buf[j].isspace() and long_enough else False
        if cfg.max_chars and c.isspace() and i >= cfg.max_chars and len(buf[:i].strip()) >= cfg.max_chars:
            return i, 0
        return False

    def _after_terminal(self, i: int, final: bool) -> tuple[int, int] | bool | None:
        """Decides a run of sentence punctuation that starts at ``i`` (see the module docstring)."""
        buf = self._buf
        j = i
        while j < len(buf) and buf[j] in _TERMINALS:
            j += 1
        while j < len(buf) and buf[j] in _CLOSERS:
            j += 1
        if j == len(buf):
            return _WAIT if not final else (j, 0)
        run = buf[i:j]
        if any(c in _CJK_ENDERS for c in run):
            return j, 0
        if not buf[j].isspace():
            return False  # "3.5", "U.S.A", "example.com", "?!" inside a token
        if not any(c in _PERIODS for c in run):
            return j, 0
        k = j
        while k < len(buf) and buf[k].isspace():
            k += 1
        if k == len(buf):
            return _WAIT if not final else (j, 0)
        ends = self._period_ends_sentence(buf[: i + 1], buf[k:], final)
        return ends if ends is _WAIT else ((j, 0) if ends else False)

    def _period_ends_sentence(self, before: str, after: str, final: bool) -> bool | None:
        """``before`` ends with the period; ``after`` starts with the next non-space character."""
        nxt = after[0]
        if nxt.islower() or nxt in _TERMINALS or nxt in _CLAUSE_MARKS:
            return False
        token = re.search(r"(\S+)$", before).group(1).lstrip(_OPENERS)
        low = token.lower()
        if low in self._nonfinal or re.fullmatch(r"[A-Z]\.", token):
            return False
        if nxt.isdigit() and low in NUMBER_PREFIXES:
            return False  # "No. 5", "S. 12"
        word = re.match(r"[^\W\d_]+", after)
        word_complete = bool(word) and (word.end() < len(after) or final)
        if self.config.lang == "de" and re.fullmatch(r"\d{1,3}\.", token):
            prev = re.search(r"(\w+)\s+\S+$", before)
            if prev and prev.group(1).lower() in _DE_ORDINAL_BEFORE:
                return False  # "am 3. Mai", "der 3. Platz"
            if word and not word_complete:
                return _WAIT
            return not (word and word.group(0) in language("de").months)
        if low in self._final or _INITIALISM.fullmatch(token):
            if word and not word_complete:
                return _WAIT
            next_word = word.group(0) if word else ""
            return next_word in self._starters or (low == "etc." and next_word[:1].isupper())
        return True


def split_sentences(
    text: str,
    lang: str = "en",
    *,
    clauses: bool = False,
    min_clause_chars: int = 30,
    max_chars: int | None = None,
) -> list[str]:
    """Splits a whole text into sentences (or clauses): the same units as pushing it piece by piece."""
    splitter = IncrementalSplitter(
        lang, clauses=clauses, min_clause_chars=min_clause_chars, max_chars=max_chars
    )
    return splitter.push(text) + splitter.flush()
