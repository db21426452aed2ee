"""``normalize(text, lang)``: raw text -> what a person would say, written in words.

The pipeline is four passes, in an order chosen so that the result is a fixed point
(``normalize(normalize(x)) == normalize(x)``):

1. ``prepare``: Unicode clean-up. Control/format/unassigned characters go; NFKC (full-width
   letters and digits, ligatures); every decimal digit of any script (Arabic-Indic ٠-٩, Devanagari
   ०-९, ...) becomes an ASCII digit; typographic quotes and dashes are unified; whitespace collapses
   (a paragraph break without punctuation becomes a period).
2. Language rules that need digits or symbols (URLs, dates, times, money, units, numbers, "&", ...),
   then a safety net that reads any digit still left. After this pass no digit remains.
3. ``canonical``: characters the model cannot read become spaces (never nothing, so two words are
   never glued), brackets and dashes become commas, punctuation is attached to the previous word,
   followed by one space and collapsed to one mark ("?!" -> "?", "...." -> "..."), whitespace is
   single spaces.
4. Language rules on words (spaced dotted abbreviations such as "z. B.", Roman numerals in safe
   contexts, acronyms, then abbreviations, whose context looks at the acronyms), then ``canonical``.

Pass 2 never fires on pass 4's output (it needs digits or symbols, and ``canonical`` leaves no
"letter.letter" for its dot rules), and pass 4's rules never fire on their own output; that is what
makes the whole idempotent, and ``tests/text/test_properties.py`` checks it on random text.
"""

from __future__ import annotations

import re
import unicodedata

from flowtts.text import normalize_en, normalize_intl
from flowtts.text.languages import language
from flowtts.text.numbers import integer_string

# Punctuation the output keeps, because prosody needs it. Native marks of Arabic (، ؛ ؟) and
# Devanagari (। ॥) are kept as written; Spanish opening marks (¿ ¡) are kept before their word.
SENTENCE_PUNCT = ".,?!;:،؛؟।॥"
OPENING_PUNCT = "¿¡"
_ZW = "\u200c\u200d"  # ZWNJ/ZWJ: shape Devanagari and Arabic words, so kept inside them

# Characters mapped before NFKC, which would otherwise turn "3½" into "31⁄2" and "km²" into "km2".
_PRE_NFKC = {
    "½": " 1/2",
    "⅓": " 1/3",
    "⅔": " 2/3",
    "¼": " 1/4",
    "¾": " 3/4",
    "⅕": " 1/5",
    "⅖": " 2/5",
    "⅗": " 3/5",
    "⅘": " 4/5",
    "⅙": " 1/6",
    "⅚": " 5/6",
    "⅛": " 1/8",
    "⅜": " 3/8",
    "⅝": " 5/8",
    "⅞": " 7/8",
    "²": "^2",
    "³": "^3",
}
# Characters unified after NFKC: one apostrophe, one hyphen, one minus, ASCII-ish punctuation.
_POST_NFKC = str.maketrans(
    {
        "’": "'",
        "‘": "'",
        "ʼ": "'",
        "‛": "'",
        "`": "'",
        "´": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "«": '"',
        "»": '"',
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "−": "-",
        "٫": ".",
        "٬": ",",
        "٪": "%",
        "。": ".",
        "、": ",",
        "｡": ".",
        "⁄": "/",
    }
)
_PUNCT_RUN = re.compile(rf"\s*([{SENTENCE_PUNCT}](?:\s*[{SENTENCE_PUNCT}])*)")
_BRACKETS = "()[]{}"


def _is_wordchar(c: str) -> bool:
    """Letters and combining marks: what a word is made of, in any script."""
    return c != "" and unicodedata.category(c)[0] in "LM"


def _strip_controls(text: str) -> str:
    """Removes control, format (except ZWNJ/ZWJ), surrogate, private-use and unassigned characters;
    turns line/paragraph separators into newlines so that paragraph breaks survive."""
    out = []
    for c in text:
        cat = unicodedata.category(c)
        if c in "\n\r\u2028\u2029\x85\x0b\x0c":
            out.append("\n")
        elif c == "\t":
            out.append(" ")
        elif cat in ("Cc", "Cs", "Co", "Cn") or cat == "Cf" and c not in _ZW:
            continue
        else:
            out.append(c)
    return "".join(out)


def _ascii_digits(text: str) -> str:
    """Any character with a digit value (٣, ३, ៣, 𝟑...) becomes the ASCII digit, so rules see it."""
    out = []
    for c in text:
        if c.isascii():
            out.append(c)
            continue
        d = unicodedata.digit(c, None)
        out.append(str(d) if d is not None else c)
    return "".join(out)


def prepare(text: str) -> str:
    """Pass 1: Unicode clean-up (see the module docstring). Never raises on any ``str``."""
    text = _strip_controls(text)
    text = re.sub(r"\b([Nn])\.?º", r"\1°", text)  # "nº 5": a number sign, not an ordinal "o"
    text = "".join(_PRE_NFKC.get(c, c) for c in text)
    text = unicodedata.normalize("NFKC", text)
    text = _ascii_digits(text).translate(_POST_NFKC)
    # A blank line ends a paragraph: keep that pause even when the writer left out the period.
    text = re.sub(rf"(?<=[^\s{SENTENCE_PUNCT}])[ \t]*\n[ \t]*\n\s*", ". ", text)
    return " ".join(text.split())


def _canonical_punct(run: str) -> str:
    """One mark for a run of punctuation: "?!" -> "?", "...." -> "...", ".," -> "."."""
    marks = run.replace(" ", "")
    for cls in ("?؟", "!"):
        for c in marks:
            if c in cls:
                return c
    if marks.count(".") >= 2:
        return "..."
    for cls in (".।॥", ";؛", ":", ",،"):
        for c in marks:
            if c in cls:
                return c
    return ""


def _keep_char(text: str, i: int) -> str:
    """What character ``i`` becomes in canonical text (itself, a space or a comma)."""
    c = text[i]
    if c.isspace():
        return " "
    if _is_wordchar(c) or c in SENTENCE_PUNCT or c in OPENING_PUNCT:
        return c
    prev = text[i - 1] if i > 0 else ""
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if c in _ZW:  # joiners only make sense inside a word
        return c if _is_wordchar(prev) and _is_wordchar(nxt) else " "
    if c in "-'":
        if _is_wordchar(prev) and _is_wordchar(nxt):
            return c  # "twenty-one", "don't"
        if c == "-" and (prev == "-" or nxt == "-" or prev.isspace() and nxt.isspace()):
            return ","  # " - " and "--" are pauses
        return " "
    if c in "—–" or c in _BRACKETS:
        return ","  # dashes and brackets are read as pauses
    return " "


def canonical(text: str) -> str:
    """Pass 3: only letters, marks, inner apostrophes/hyphens, kept punctuation and single spaces.

    Idempotent: ``canonical(canonical(x)) == canonical(x)``.
    """
    text = "".join(_keep_char(text, i) for i in range(len(text)))
    # Opening marks: one, attached to the next word; dropped when no word follows them. Done before
    # the punctuation runs so that removing one never leaves two runs side by side.
    text = re.sub(rf"[{OPENING_PUNCT}\s]*([{OPENING_PUNCT}])[{OPENING_PUNCT}\s]*", r" \1", text)
    text = re.sub(rf"[{OPENING_PUNCT}]+(?=[{SENTENCE_PUNCT}]|$)", " ", text)
    text = _PUNCT_RUN.sub(lambda m: _canonical_punct(m.group(1)) + " ", text)
    text = " ".join(text.split())
    return re.sub(rf"^[{SENTENCE_PUNCT}\s]+", "", text)


def read_remaining_digits(text: str, lang: str) -> str:
    """Safety net after the language rules: any digit run still present is read as a number."""
    return re.sub(r"\d+", lambda m: f" {integer_string(m.group(0), lang)} ", text)


def _rules(lang: str):
    """The rule module of ``lang``: English has its own, the other eight share one."""
    return normalize_en if lang == "en" else normalize_intl


def normalize(text: str, lang: str) -> str:
    """Normalizes ``text`` in language ``lang`` (one of ``SUPPORTED_LANGUAGES``) for speech.

    Numbers, dates, times, money, units, URLs, abbreviations and acronyms become words; the output
    has no digits, keeps sentence punctuation (.,?!;:) and is stable under a second call.

    Raises:
        FlowTTSError: ``lang`` is not supported.
    """
    language(lang)  # validates
    rules = _rules(lang)
    text = prepare(text)
    text = rules.expand_symbols(text, lang)
    text = canonical(read_remaining_digits(text, lang))
    text = rules.expand_words(text, lang)
    return canonical(text)
