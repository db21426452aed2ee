"""URLs, e-mail addresses and phone numbers: read out piece by piece, in every language.

These run first, before any number or punctuation rule, because they are full of dots, slashes and
digits that other rules would misread ("example.com/v1.2" is not a decimal). The scheme ("https://")
is not read, as people do not say it; "www" is read letter by letter; separators become the
language's words ("dot", "Punkt", "arobase"); digits inside are read one at a time (ports, paths,
phone numbers are codes, not amounts).
"""

from __future__ import annotations

import re

from flowtts.text.languages import language
from flowtts.text.numbers import digits

# Top-level domains we accept for bare domains without a scheme ("example.com"); a longer list would
# start to eat ordinary "word.word" typos, and anything with a scheme or "www." is a URL anyway.
_TLDS = (
    "com|org|net|edu|gov|mil|int|io|ai|co|uk|us|de|fr|es|it|pt|nl|be|ch|at|eu|in|jp|cn|ru|br|ca|au|"
    "info|biz|dev|app|me|tv|ly|gg|xyz|online|site|tech|news|ar|mx|se|no|dk|fi|pl|ie|nz|za|sa|ae|eg|ma"
)
_TRAILING = ".,;:!?)]}'\"»"
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL = re.compile(
    r"(?<![\w@/.-])(?:(?:https?|ftp)://|www\.)[A-Za-z0-9][^\s<>\"]*"
    # Bare domains need a lower-case TLD: "home.It was" is a missing space, not a URL.
    rf"|(?<![\w@/.-])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?-i:{_TLDS})\b(?:[/?#:][^\s<>\"]*)?",
    re.IGNORECASE,
)
# International numbers with a leading "+": "+33 1 23 45 67 89", "+1-555-123-4567".
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]\(?\d{1,4}\)?){2,6}(?![\w])")
_SPLIT_SYMBOLS = re.compile(r"([^A-Za-z0-9\u00c0-\uffff]|\d+)")

# Words for symbols inside URLs beyond the per-language basics (English names are understood widely).
_EXTRA_SYMBOLS = {
    "?": "question mark",
    "=": "equals",
    "&": "and",
    "#": "hash",
    "~": "tilde",
    "%": "percent",
    "+": "plus",
}


def _read_chunks(text: str, lang: str) -> str:
    """Reads a URL/e-mail fragment: words stay, digits are read one by one, symbols are named."""
    words = language(lang).url_words
    out: list[str] = []
    for part in _SPLIT_SYMBOLS.split(text):
        if not part:
            continue
        if part.isdigit():
            out.append(digits(part, lang))
        elif part in words:
            out.append(words[part])
        elif part in _EXTRA_SYMBOLS:
            out.append(_EXTRA_SYMBOLS[part] if lang == "en" else words.get(part, ""))
        elif part.isalnum():
            out.append("w w w" if part.lower() == "www" else part.lower())
    return " ".join(p for p in out if p)


def _strip_trailing(match: re.Match) -> tuple[str, str]:
    """Splits sentence punctuation off the end of a match: "example.com." -> ("example.com", ".")."""
    s = match.group(0)
    body = s.rstrip(_TRAILING)
    return body, s[len(body) :]


def _url(match: re.Match, lang: str) -> str:
    body, tail = _strip_trailing(match)
    body = re.sub(r"^(?:https?|ftp)://", "", body, flags=re.IGNORECASE).rstrip("/")
    return f" {_read_chunks(body, lang)}{tail} "


def _email(match: re.Match, lang: str) -> str:
    body, tail = _strip_trailing(match)
    return f" {_read_chunks(body, lang)}{tail} "


def _phone_intl(match: re.Match, lang: str) -> str:
    groups = re.findall(r"\d+", match.group(0))
    data = language(lang)
    comma = "، " if lang == "ar" else ", "
    return f" {data.plus} " + comma.join(digits(g, lang) for g in groups) + " "


def read_web(text: str, lang: str) -> str:
    """Replaces e-mail addresses, URLs and "+"-prefixed phone numbers with words."""
    text = _EMAIL.sub(lambda m: _email(m, lang), text)
    text = _URL.sub(lambda m: _url(m, lang), text)
    return _PHONE_INTL.sub(lambda m: _phone_intl(m, lang), text)
