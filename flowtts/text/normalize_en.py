"""English rules: dates, times, money, units, ordinals, fractions, ranges, years, symbols, Roman
numerals and abbreviations, read the way an American newsreader would.

``expand_symbols`` runs the rules that need digits or symbols, most specific first (a phone number
before a range, a date before a fraction, money before a plain number); ``expand_words`` runs on
canonical text. Choices worth knowing:

- A bare four-digit number from 1000 to 2099 is a year ("in 1999" -> "nineteen ninety-nine") unless a
  plural noun follows ("1999 people" -> "one thousand nine hundred ninety-nine people").
- Numbers are American: no "and" ("one hundred one"); decimals are read digit by digit after
  "point" ("3.14" -> "three point one four"); leading zeros and runs of ten or more digits are codes.
- Money and units are in ``measures_en``.
- "3/4" is a fraction, "3/14/2015" a date (month first unless the first field exceeds 12).
- Times: "3:45 pm" -> "three forty-five p m"; "14:00" -> "fourteen hundred"; "3:00" -> "three
  o'clock". "a m"/"p m" and acronyms ("F B I") are single letters separated by spaces, which both a
  rule-based engine and the acoustic model read as letter names.
"""

from __future__ import annotations

import re

from flowtts.text.languages import language
from flowtts.text.measures_en import NUM, read_money, read_number, read_quantities
from flowtts.text.numbers import (
    cardinal,
    digits,
    integer_string,
    ordinal,
    plural_english,
    year,
)
from flowtts.text.web import read_web
from flowtts.text.words import expand_abbreviations, expand_dotted, spell_acronyms

_MONTHS = language("en").months
_MONTH_ABBR = {
    "Jan": 1,
    "Feb": 2,
    "Mar": 3,
    "Apr": 4,
    "Jun": 6,
    "Jul": 7,
    "Aug": 8,
    "Sep": 9,
    "Sept": 9,
    "Oct": 10,
    "Nov": 11,
    "Dec": 12,
}
_MONTH_RE = "(?P<mon>" + "|".join(sorted([*_MONTHS, *_MONTH_ABBR], key=len, reverse=True)) + r")\.?"
_AMPM = r"(?P<ampm>[AaPp])\.?\s?[Mm]\.?(?!\w)"
_PLURAL_EXCEPTIONS = frozenset("was is has does as this his its plus minus thus us yes less always".split())
_COUNT_NOUNS = frozenset("people men women children feet teeth mice sheep fish deer police staff".split())


def _month_number(name: str) -> int:
    return _MONTHS.index(name) + 1 if name in _MONTHS else _MONTH_ABBR[name]


def _date_words(month: int, day: int, yr: str | None, day_first: bool) -> str:
    """ "March third, twenty twenty-one" (month first) or "the third of March, twenty twenty-one"."""
    head = (
        f"the {ordinal(day, 'en')} of {_MONTHS[month - 1]}"
        if day_first
        else f"{_MONTHS[month - 1]} {ordinal(day, 'en')}"
    )
    if not yr:
        return head
    if len(yr) == 2:
        y = int(yr)
        return f"{head}, " + (f"oh {cardinal(y, 'en')}" if y < 10 else cardinal(y, "en"))
    return f"{head}, {year(int(yr), 'en')}"


def _dates(text: str) -> str:
    """ISO (2021-03-14), numeric (3/14/2015, 14.03.2021) and month-name dates."""

    def iso(m: re.Match) -> str:
        mo, d = int(m.group(2)), int(m.group(3))
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            return m.group(0)
        return f" {_date_words(mo, d, m.group(1), False)} "

    def numeric(m: re.Match) -> str:
        a, b, sep, yr = int(m.group(1)), int(m.group(3)), m.group(2), m.group(4)
        if sep == "." or (a > 12 and b <= 12):  # European order
            a, b, day_first = b, a, True
        else:
            day_first = False
        if not (1 <= a <= 12 and 1 <= b <= 31):
            return m.group(0)
        return f" {_date_words(a, b, yr, day_first)} "

    def month_first(m: re.Match) -> str:
        d = int(m.group("d"))
        if not 1 <= d <= 31:
            return m.group(0)
        return f" {_date_words(_month_number(m.group('mon')), d, m.group('y'), False)} "

    def day_first(m: re.Match) -> str:
        d = int(m.group("d"))
        if not 1 <= d <= 31:
            return m.group(0)
        words = _date_words(_month_number(m.group("mon")), d, m.group("y"), True)
        if re.search(r"\bthe\s*$", m.string[: m.start()], re.IGNORECASE):
            words = words[len("the ") :]
        return f" {words}{_sentence_period(m.string, m.end(), m.group(0))} "

    def month_day(m: re.Match) -> str:
        """ "on 12/25" is a date; "3/4" stays a fraction unless a date word comes before it."""
        mo, d = int(m.group(1)), int(m.group(2))
        after_date_word = re.search(
            r"\b(?:on|by|until|till|since|from|before|after|due)\s+$", m.string[: m.start()]
        )
        if 1 <= mo <= 12 and 1 <= d <= 31 and (after_date_word or (d > 12 and d not in (16, 32))):
            return f" {_date_words(mo, d, None, False)} "
        return m.group(0)

    text = re.sub(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])", iso, text)
    text = re.sub(r"(?<![\d/.-])(\d{1,2})(/)(\d{1,2})/(\d{4}|\d{2})(?![\d/-]|\.\d)", numeric, text)
    text = re.sub(r"(?<![\d/.-])(\d{1,2})([.-])(\d{1,2})\2(\d{4})(?![\d/-]|\.\d)", numeric, text)
    text = re.sub(
        rf"\b{_MONTH_RE}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?!\d)(?:(?P<c>,)?\s+(?P<y>\d{{4}})(?!\d))?",
        month_first,
        text,
    )
    text = re.sub(r"(?<![\d/.,-])(\d{1,2})/(\d{1,2})(?![\d/]|[.,]\d)", month_day, text)
    return re.sub(
        rf"(?<![\d.,])(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_RE}(?!\w)"
        rf"(?:,?\s+(?P<y>\d{{4}})(?!\d))?",
        day_first,
        text,
    )


def _sentence_period(text: str, end: int, consumed: str) -> str:
    """Keeps a period swallowed by "p.m." when it also ended the sentence."""
    if not consumed.endswith("."):
        return ""
    rest = text[end:]
    return "." if not rest.strip() or re.match(r"\s+[A-Z]", rest) else ""


def _minutes(m: int) -> str:
    return f"oh {cardinal(m, 'en')}" if m < 10 else cardinal(m, "en")


def _clock(m: re.Match) -> str:
    """ "3:45 pm" -> "three forty-five p m", "14:30" -> "fourteen thirty", "3:00" -> "three o'clock"."""
    h, mi = int(m.group("h")), int(m.group("m"))
    sec = m.group("s")
    ampm = m.group("ampm")
    if h > 24 or mi > 59 or (sec and int(sec) > 59) or (ampm and h > 12):
        return m.group(0)
    if ampm:
        words = cardinal(h or 12, "en") + ("" if mi == 0 else f" {_minutes(mi)}")
        words += f" {ampm.lower()} m" + _sentence_period(m.string, m.end(), m.group(0))
    elif mi == 0:
        words = (
            f"{cardinal(h, 'en')} hundred"
            if h >= 13 or h == 0 or m.group("h")[0] == "0"
            else f"{cardinal(h, 'en')} o'clock"
        )
    else:
        words = f"{cardinal(h, 'en')} {_minutes(mi)}"
    if sec and int(sec):
        words += f" and {cardinal(int(sec), 'en')} second" + ("" if int(sec) == 1 else "s")
    return f" {words} "


def _times(text: str) -> str:
    text = re.sub(
        rf"(?<![\d:.,])(?P<h>\d{{1,2}}):(?P<m>\d{{2}})(?::(?P<s>\d{{2}}))?(?![\d:])(?:\s?{_AMPM})?",
        _clock,
        text,
    )

    def hour(m: re.Match) -> str:
        h = int(m.group("h"))
        if not 1 <= h <= 12:
            return m.group(0)
        end = _sentence_period(m.string, m.end(), m.group(0))
        return f" {cardinal(h, 'en')} {m.group('ampm').lower()} m{end} "

    text = re.sub(rf"(?<![\d:.,])(?P<h>\d{{1,2}})\s?{_AMPM}", hour, text)
    # What is left of "a:b" is a ratio or a score: "16:9" -> "sixteen to nine".
    return re.sub(
        r"(?<![\d:.,])(\d+):(\d+)(?![\d:])",
        lambda m: f" {integer_string(m.group(1), 'en')} to {integer_string(m.group(2), 'en')} ",
        text,
    )


def _phones(text: str) -> str:
    """US numbers: "(555) 123-4567", "555-123-4567", "1-800-555-1234" -> digits in groups."""

    def read(m: re.Match) -> str:
        groups = [g for g in m.groups() if g]
        return " " + ", ".join(digits(g, "en") for g in groups) + " "

    text = re.sub(
        r"(?<![\w.+-])(?:(1)[\s.-])?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-](\d{4})(?![\w-]|\.\d)", read, text
    )
    return re.sub(r"(?<![\w.,-])(\d{3})-(\d{4})(?![\w-]|\.\d)", read, text)


def _fraction_words(n: int, d: int, mixed: bool) -> str:
    """ "1/2" -> "one half", "3/4" -> "three quarters", "2/3" -> "two thirds", "5/1000" -> "5 over 1000"."""
    if d in (0, 1) or d > 1000 or n > 1000:
        return f"{cardinal(n, 'en')} over {cardinal(d, 'en')}"
    name = {2: "half", 4: "quarter"}.get(d) or ordinal(d, "en")
    if n != 1:
        name = "halves" if d == 2 else plural_english(name)
    count = "a" if mixed and n == 1 else cardinal(n, "en")
    return f"{count} {name}"


def _fractions(text: str) -> str:
    def read(m: re.Match) -> str:
        n, d = int(m.group("n")), int(m.group("d"))
        if (n, d) == (24, 7):
            return " twenty-four seven "
        whole = m.group("w")
        frac = _fraction_words(n, d, mixed=bool(whole))
        return f" {cardinal(int(whole), 'en')} and {frac} " if whole else f" {frac} "

    return re.sub(
        r"(?<![\w/.,])(?:(?P<w>\d{1,3})\s+)?(?P<n>\d{1,4})/(?P<d>\d{1,4})(?![\w/]|[.,]\d)", read, text
    )


def _counting(text: str) -> str:
    """Decades, ordinals, "No. 5", "#1", "3x", "3x4"."""
    text = re.sub(
        r"(?<![\w'])(?P<y>(?:1\d|20)\d0)'?s\b",
        lambda m: f" {plural_english(year(int(m.group('y')), 'en'))} ",
        text,
    )
    text = re.sub(
        r"(?<![\w'])'?(?P<d>[1-9]0)'?s\b",
        lambda m: f" {plural_english(cardinal(int(m.group('d')), 'en'))} ",
        text,
    )
    text = re.sub(
        r"(?<![\w.,])(?P<n>\d{1,3}(?:,\d{3})+|\d+)(?:st|nd|rd|th|ST|ND|RD|TH)\b",
        lambda m: f" {ordinal(int(m.group('n').replace(',', '')), 'en')} ",
        text,
    )
    text = re.sub(r"\b(?:No|no|Nos|nos|Nr|nr)\.\s?(?=\d)", " number ", text)
    text = re.sub(r"\bp\.\s?(?=\d)", " page ", text)
    text = re.sub(
        r"(?<![\w.,])(\d+)'\s?(\d+)(?:\"|'')",
        lambda m: f" {cardinal(int(m.group(1)), 'en')} feet {cardinal(int(m.group(2)), 'en')} inches ",
        text,
    )
    text = re.sub(r"#\s?(?=\d)", " number ", text)
    text = re.sub(
        rf"(?<![\w.,])(?P<a>{NUM})[x×](?P<b>{NUM})(?![\w])",
        lambda m: f" {read_number(m.group('a'))} by {read_number(m.group('b'))} ",
        text,
    )
    text = re.sub(
        rf"(?<![\w.,])(?P<a>{NUM})\s[x×]\s(?P<b>{NUM})(?![\w])",
        lambda m: f" {read_number(m.group('a'))} times {read_number(m.group('b'))} ",
        text,
    )
    return re.sub(
        rf"(?<![\w.,])(?P<a>{NUM})[x×](?![\w])", lambda m: f" {read_number(m.group('a'))} times ", text
    )


def _is_year(s: str) -> bool:
    return len(s) == 4 and s.isdigit() and s[0] != "0" and 1000 <= int(s) <= 2099


def _ranges(text: str) -> str:
    """ "10-20" and "10–20" -> "ten to twenty"; "1999-2005" reads both ends as years."""

    def read(m: re.Match) -> str:
        a, b = m.group("a"), m.group("b")
        if _is_year(a) and (_is_year(b) or len(b) == 2):
            end = year(int(b), "en") if len(b) == 4 else integer_string(b, "en").replace("zero ", "oh ")
            return f" {year(int(a), 'en')} to {end} "
        return f" {read_number(a)} to {read_number(b)} "

    text = re.sub(rf"(?<![\w.,-])(?P<a>{NUM})\s?[–—]\s?(?P<b>{NUM})(?![\d])", read, text)
    return re.sub(rf"(?<![\w.,-])(?P<a>{NUM})-(?P<b>{NUM})(?![\d-])", read, text)


def _plain_numbers(text: str) -> str:
    """Negative numbers, versions/IPs, years, amounts and decimals that no earlier rule claimed."""
    text = re.sub(r"(?<![\w.,)\]-])-(?=\.?\d)", " minus ", text)
    text = re.sub(
        r"(?<![\d.])\d+(?:\.\d+){2,}(?![\d])",
        lambda m: " " + " dot ".join(integer_string(g, "en") for g in m.group(0).split(".")) + " ",
        text,
    )

    def read(m: re.Match) -> str:
        s = m.group(0)
        if _is_year(s) and _reads_as_year(m.string, m.end()):
            return f" {year(int(s), 'en')} "
        return f" {read_number(s)} "

    text = re.sub(rf"(?<![\d.,])(?:{NUM})(?![\d])|(?<![\w.,])\.\d+(?![\d])", read, text)
    return re.sub(r"\d+", lambda m: f" {integer_string(m.group(0), 'en')} ", text)


def _reads_as_year(text: str, end: int) -> bool:
    """A four-digit number is a year unless a plural noun follows it ("1999 people", "2000 cars")."""
    nxt = re.match(r"\s+([a-z]+)\b", text[end:])
    if not nxt:
        return True
    word = nxt.group(1)
    if word in _COUNT_NOUNS:
        return False
    return not (word.endswith("s") and not word.endswith("ss") and word not in _PLURAL_EXCEPTIONS)


_SYMBOLS = (
    (r"(?<=[^\W\d_])/(?=[^\W\d_])", " or "),
    (r"&", " and "),
    (r"\+", " plus "),
    (r"=", " equals "),
    (r"@", " at "),
    (r"%", " percent "),
    (r"°", " degrees "),
    (r"×", " times "),
    (r"±", " plus or minus "),
    (r"≈", " approximately "),
    (r"≤", " less than or equal to "),
    (r"≥", " greater than or equal to "),
)


def _comparisons(text: str) -> str:
    """Symbols that only mean something before a number: "~5" -> "about five", "<5" -> "less than"."""
    text = re.sub(r"~\s?(?=[-\d$€£])", " about ", text)
    text = re.sub(r"(?<![<>])<\s?(?=[-\d$€£])", " less than ", text)
    return re.sub(r">\s?(?=[-\d$€£])", " more than ", text)


def expand_symbols(text: str, lang: str = "en") -> str:
    """Pass 2 for English: every rule that needs digits or symbols, most specific first."""
    text = read_web(text, "en")
    text = text.replace("and/or", "and or")
    # "AT&T", "P&G": letters around "&" are initials, spelled like other acronyms.
    text = re.sub(
        r"\b([A-Z]{1,3})&([A-Z]{1,3})\b",
        lambda m: f" {' '.join(m.group(1))} and {' '.join(m.group(2))} ",
        text,
    )
    for rule in (
        _phones,
        _dates,
        _times,
        _comparisons,
        read_money,
        read_quantities,
        _counting,
        _fractions,
        _ranges,
        _plain_numbers,
    ):
        text = rule(text)
    # Again: reading a number can free a URL that a digit was glued to ("0www.x.com").
    text = read_web(text, "en")
    for pattern, words in _SYMBOLS:
        text = re.sub(pattern, words, text)
    return expand_dotted(text, "en")


_ROMAN = r"(?=[IVX])X{0,3}(?:IX|IV|V?I{0,3})"
_ROMAN_CONTEXT = (
    "chapter|part|volume|vol\\.?|book|act|scene|section|article|appendix|phase|stage|level|class|type|"
    "episode|season|round|title|psalm|canto|world war|super bowl|apollo|rocky|star wars episode|grade"
)
_REGNAL = (
    "Henry|Louis|Elizabeth|George|Edward|Charles|Richard|William|James|John|Pius|Benedict|Gregory|Leo|"
    "Napoleon|Philip|Mary|Catherine|Peter|Frederick|Alexander|Nicholas|Ramesses|Constantine|Innocent|"
    "Clement|Urban|Boniface|Paul|Victor|Ferdinand|Francis|Otto|Ivan|Gustav|Carl|Juan|Felipe|Alfonso"
)


def _roman_value(s: str) -> int:
    values = {"I": 1, "V": 5, "X": 10}
    total = 0
    for i, c in enumerate(s):
        v = values[c]
        total += -v if i + 1 < len(s) and values[s[i + 1]] > v else v
    return total


def _roman_numerals(text: str) -> str:
    """Roman numerals only where they cannot be a letter or a word: "Chapter IV" -> "Chapter four",
    "Henry VIII" -> "Henry the eighth". Up to XXXIX, and only I, V, X ("Type C" stays a letter)."""
    text = re.sub(
        rf"\b(?P<c>(?i:{_ROMAN_CONTEXT}))\s+(?P<r>{_ROMAN})\b",
        lambda m: f"{m.group('c')} {cardinal(_roman_value(m.group('r')), 'en')}",
        text,
    )
    return re.sub(
        rf"\b(?P<n>{_REGNAL})\s+(?P<r>{_ROMAN})\b",
        lambda m: f"{m.group('n')} the {ordinal(_roman_value(m.group('r')), 'en')}",
        text,
    )


def expand_words(text: str, lang: str = "en") -> str:
    """Pass 4 for English: Roman numerals in safe contexts, acronyms, abbreviations."""
    # Order matters for idempotence: Roman numerals before acronyms (else "IV" is spelled), acronyms
    # before abbreviations (whose context, "Main St." vs "St. Louis", looks at neighbouring capitals).
    text = expand_dotted(text, "en")
    text = _roman_numerals(text)
    text = spell_acronyms(text, "en")
    return expand_abbreviations(text, "en")
