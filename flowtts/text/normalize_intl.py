"""Rules for fr, de, es, it, pt, nl, ar and hi: numbers, decimals, ordinals, dates, times, money,
percentages and temperatures, table-driven from ``languages.py``.

Number formats, and the heuristics that tell them apart (documented because they can be wrong):

- fr de es it pt nl write decimals with a comma: "3,5" is three point five. A dot followed by groups
  of exactly three digits is a thousands separator ("1.000", "12.345.678" are integers); any other
  dot is a decimal point written the English way ("3.5", "3.14"). Groups separated by spaces
  ("1 000 000", also the no-break spaces French uses) are integers. "1.000,50" is 1000.50.
- ar and hi write decimals with a dot and group with commas, in threes ("1,000,000") or the Indian
  way ("1,00,000" = one lakh).
- Numeric dates are day first ("14/03/2021", "14.03.2021", "14-03-2021") and need a four-digit year,
  so that "1.2.3" stays a version number. ISO dates ("2021-03-14") are read as dates too.
- German "3." is an ordinal only before a month, a lower-case word, or after an article or
  preposition ("am 3. Mai" -> "am dritten Mai"); the ending follows the word before it (am/im/zum
  -> "dritten", der/die/das -> "dritte", otherwise "dritter"). Elsewhere "3." ends a sentence.
- German and Dutch read four-digit numbers from 1100 to 1999 as years ("neunzehnhundertneunundneunzig");
  Hindi reads 1100–9999 in hundreds ("उन्नीस सौ निन्यानवे"), which is also how Hindi says amounts.
"""

from __future__ import annotations

import re

from flowtts.text.languages import language
from flowtts.text.numbers import (
    MAX_CARDINAL,
    cardinal,
    decimal,
    german_ordinal,
    integer_string,
    ordinal,
    spanish_short_ordinal,
    year,
)
from flowtts.text.web import read_web
from flowtts.text.words import expand_abbreviations, expand_dotted, spell_acronyms

_NUM_COMMA_DECIMAL = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d{1,3}(?: \d{3})+(?:,\d+)?|\d+,\d+|\d+\.\d+|\d+"
_NUM_DOT_DECIMAL = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d+)?|\d+\.\d+|\d+"

_DEGREES = {
    "fr": "degrés",
    "de": "Grad",
    "es": "grados",
    "it": "gradi",
    "pt": "graus",
    "nl": "graden",
    "ar": "درجة",
    "hi": "डिग्री",
}
_CELSIUS = {"ar": "مئوية", "hi": "सेल्सियस"}
_NUMBER_WORD = {
    "fr": "numéro",
    "de": "Nummer",
    "es": "número",
    "it": "numero",
    "pt": "número",
    "nl": "nummer",
    "ar": "رقم",
    "hi": "संख्या",
}
_ONE_BEFORE_NOUN = {"de": "ein", "es": "un", "it": "un"}  # "ein Euro", not "eins Euro"
_DE_EN = frozenset("am im vom zum beim dem den des seit ab bis".split())
_DE_E = frozenset("der die das".split())


def _num_pattern(lang: str) -> str:
    return _NUM_COMMA_DECIMAL if language(lang).decimal_comma else _NUM_DOT_DECIMAL


def read_number(s: str, lang: str) -> str:
    """Words for one number token in ``lang``'s conventions (see the module docstring)."""
    data = language(lang)
    if data.decimal_comma:
        grouped = re.fullmatch(r"\d{1,3}(?:[. ]\d{3})+(?:,\d+)?", s)
        if grouped:
            whole, _, frac = s.partition(",")
            whole = re.sub(r"[. ]", "", whole)
        elif "," in s:
            whole, _, frac = s.partition(",")
        else:
            whole, _, frac = s.partition(".")
    else:
        grouped = "," in s
        whole, _, frac = s.replace(",", "").partition(".")
    if frac:
        return decimal(whole, frac, lang)
    if grouped and int(whole) < MAX_CARDINAL:
        return cardinal(int(whole), lang)
    return integer_string(whole, lang)


def _int_value(s: str) -> int:
    return int(re.sub(r"\D", "", s))


def _day_words(d: int, lang: str) -> str:
    """The day of a date: ordinal for the 1st where the language says so ("premier", "primo")."""
    if d == 1 and lang in ("fr", "es", "it", "pt"):
        return ordinal(1, lang)
    return cardinal(d, lang)


def _german_ending(text: str, start: int) -> str:
    """Adjective ending of a German ordinal from the word before ``start`` (see the module docstring)."""
    prev = re.search(r"(\w+)\s*$", text[:start])
    return _ending_after(prev.group(1) if prev else "")


def _ending_after(word: str) -> str:
    word = word.lower()
    return "en" if word in _DE_EN else "e" if word in _DE_E else "er"


def _date_words(d: int, mo: int, y: int, lang: str, text: str, start: int) -> str:
    month = language(lang).months[mo - 1]
    yr = year(y, lang)
    if lang == "de":
        return f"{german_ordinal(d, _german_ending(text, start))} {month} {yr}"
    if lang in ("es", "pt"):
        return f"{_day_words(d, lang)} de {month} de {yr}"
    return f"{_day_words(d, lang)} {month} {yr}"


def _dates(text: str, lang: str) -> str:
    def read(m: re.Match, d: int, mo: int, y: int) -> str:
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            return m.group(0)
        return f" {_date_words(d, mo, y, lang, m.string, m.start())} "

    text = re.sub(
        r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])",
        lambda m: read(m, int(m.group(3)), int(m.group(2)), int(m.group(1))),
        text,
    )
    text = re.sub(
        r"(?<![\d/.-])(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?![\d/-]|\.\d)",
        lambda m: read(m, int(m.group(1)), int(m.group(3)), int(m.group(4))),
        text,
    )
    months = "|".join(language(lang).months)
    if lang in ("fr", "it", "es", "pt"):  # "1 mars", "1er mars", "1 de mayo" -> premier/primo/primero
        text = re.sub(rf"(?<![\d.,])1(?:er)?\s+(?=(?:de\s+)?(?i:{months})\b)", f" {ordinal(1, lang)} ", text)
    return text


def _hour_words(h: int, lang: str) -> str:
    """Hours are feminine in fr/es/it/pt ("une heure", "la una", "duas horas")."""
    words = cardinal(h, lang)
    if lang == "fr":
        return re.sub(r"\bun$", "une", words)
    if lang in ("es", "it"):
        return re.sub(r"uno$", "una", words)
    if lang == "pt":
        return re.sub(r"\bum$", "uma", re.sub(r"\bdois$", "duas", words))
    if lang == "de" and h == 1:
        return "ein"
    return words


def _time_words(h: int, mi: int, lang: str) -> str:
    hw, mw = _hour_words(h, lang), cardinal(mi, lang)
    if lang == "fr":
        unit = "heure" if h <= 1 else "heures"
        return f"{hw} {unit}" + (f" {re.sub(r'un$', 'une', mw)}" if mi else "")
    if lang == "de":
        return f"{hw} Uhr" + (f" {mw}" if mi else "")
    if lang == "nl":
        return f"{hw} uur" + (f" {mw}" if mi else "")
    if lang == "es":
        return f"{hw} y {mw}" if mi else f"{hw} en punto"
    if lang == "it":
        return f"{hw} e {mw}" if mi else hw
    if lang == "pt":
        return f"{hw} e {mw}" if mi else f"{hw} {'hora' if h == 1 else 'horas'}"
    if lang == "ar":
        return f"{hw} و{mw}" if mi else hw
    return f"{hw} बजकर {mw} मिनट" if mi else f"{hw} बजे"  # hi


# Time formats per language: (pattern with groups h and optional m). The first match wins.
_TIME_PATTERNS = {
    "fr": (r"(?P<h>\d{1,2})\s?[h:]\s?(?P<m>\d{2})(?!\d)", r"(?P<h>\d{1,2})\s?h(?!\w)"),
    "de": (
        r"(?P<h>\d{1,2})[:.](?P<m>\d{2})\s?Uhr\b",
        r"(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])",
        r"(?<=\bum )(?P<h>\d{1,2})\.(?P<m>\d{2})(?![\d.])",
        r"(?P<h>\d{1,2})\s?Uhr\b",
    ),
    "nl": (
        r"(?P<h>\d{1,2})[:.](?P<m>\d{2})\s?uur\b",
        r"(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])",
        r"(?P<h>\d{1,2})\s?uur\b",
    ),
    "es": (r"(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])(?:\s?h\b)?", r"(?P<h>\d{1,2})\s?h(?!\w)"),
    "it": (r"(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])",),
    "pt": (r"(?P<h>\d{1,2})\s?[h:]\s?(?P<m>\d{2})(?!\d)", r"(?P<h>\d{1,2})\s?h(?!\w)"),
    "ar": (r"(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])",),
    "hi": (r"(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])(?:\s*बजे)?",),
}


def _times(text: str, lang: str) -> str:
    def read(m: re.Match) -> str:
        h, mi = int(m.group("h")), int(m.groupdict().get("m") or 0)
        if h > 24 or mi > 59:
            return m.group(0)
        return f" {_time_words(h, mi, lang)} "

    for pattern in _TIME_PATTERNS[lang]:
        text = re.sub(rf"(?<![\d:.,]){pattern}", read, text)
    return text


def _money(text: str, lang: str) -> str:
    data = language(lang)
    num = _num_pattern(lang)
    syms = "|".join(re.escape(s) for s in sorted(data.currencies, key=len, reverse=True))
    codes = {"EUR": "€", "USD": "$", "GBP": "£", "INR": "₹"}

    def read(m: re.Match) -> str:
        sym = m.group("sym").strip()
        cur = data.currencies.get(codes.get(sym, sym))
        if cur is None:
            return m.group(0)
        s = m.group("num")
        frac = re.search(r"[,.](\d{2})$", s) if not re.fullmatch(r"\d{1,3}(?:[. ]\d{3})+", s) else None
        whole = s[: frac.start()] if frac else s
        value = _int_value(whole)
        amount = _ONE_BEFORE_NOUN.get(lang, cardinal(1, lang)) if value == 1 else read_number(whole, lang)
        words = f"{amount} {cur.one if value == 1 else cur.many}"
        if frac and int(frac.group(1)):
            words += f"{data.cents_joiner}{cardinal(int(frac.group(1)), lang)}"
            if lang == "hi" and cur.sub_many:  # Hindi names the paise: "पचास पैसे"
                words += f" {cur.sub_many}"
        return f" {words} "

    text = re.sub(rf"(?P<sym>{syms}|(?:EUR|USD|GBP|INR)\s)\s?(?P<num>{num})", read, text)
    return re.sub(rf"(?<![\w.,])(?P<num>{num})\s?(?P<sym>{syms}|EUR\b|USD\b|GBP\b|INR\b)", read, text)


# Common units after a number: "symbol=singular|plural; ..." (one form when the word does not change).
_UNIT_WORDS = {
    "fr": "km/h=kilomètre par heure|kilomètres par heure; km=kilomètre|kilomètres; "
    "cm=centimètre|centimètres; mm=millimètre|millimètres; m=mètre|mètres; kg=kilogramme|kilogrammes; "
    "g=gramme|grammes; ml=millilitre|millilitres; l=litre|litres; L=litre|litres",
    "de": "km/h=Kilometer pro Stunde; km=Kilometer; cm=Zentimeter; mm=Millimeter; m=Meter; kg=Kilogramm; "
    "g=Gramm; ml=Milliliter; l=Liter; L=Liter",
    "es": "km/h=kilómetro por hora|kilómetros por hora; km=kilómetro|kilómetros; cm=centímetro|centímetros; "
    "mm=milímetro|milímetros; m=metro|metros; kg=kilogramo|kilogramos; g=gramo|gramos; "
    "ml=mililitro|mililitros; l=litro|litros; L=litro|litros",
    "it": "km/h=chilometro orario|chilometri orari; km=chilometro|chilometri; cm=centimetro|centimetri; "
    "mm=millimetro|millimetri; m=metro|metri; kg=chilogrammo|chilogrammi; g=grammo|grammi; "
    "ml=millilitro|millilitri; l=litro|litri; L=litro|litri",
    "pt": "km/h=quilômetro por hora|quilômetros por hora; km=quilômetro|quilômetros; "
    "cm=centímetro|centímetros; mm=milímetro|milímetros; m=metro|metros; kg=quilograma|quilogramas; "
    "g=grama|gramas; ml=mililitro|mililitros; l=litro|litros; L=litro|litros",
    "nl": "km/h=kilometer per uur; km=kilometer; cm=centimeter; mm=millimeter; m=meter; kg=kilogram; g=gram; "
    "ml=milliliter; l=liter; L=liter",
    "ar": "km/h=كيلومتر في الساعة; km=كيلومتر; cm=سنتيمتر; mm=مليمتر; m=متر; kg=كيلوغرام; g=غرام; ml=مليلتر; "
    "l=لتر; L=لتر",
    "hi": "km/h=किलोमीटर प्रति घंटा; km=किलोमीटर; cm=सेंटीमीटर; mm=मिलीमीटर; m=मीटर; kg=किलोग्राम; g=ग्राम; "
    "ml=मिलीलीटर; l=लीटर; L=लीटर",
}


def _units(lang: str) -> dict[str, tuple[str, str]]:
    """Parses ``_UNIT_WORDS[lang]`` into symbol -> (singular, plural)."""
    out = {}
    for item in _UNIT_WORDS[lang].split(";"):
        symbol, _, words = item.strip().partition("=")
        one, _, many = words.partition("|")
        out[symbol] = (one, many or one)
    return out


def _measures(text: str, lang: str) -> str:
    """Percentages, temperatures, common units and "n°/nº 5" numbers."""
    data = language(lang)
    num = _num_pattern(lang)
    celsius = _CELSIUS.get(lang, "Celsius")

    def signed(m: re.Match) -> str:
        return (f"{data.minus} " if m.group("neg") else "") + read_number(m.group("n"), lang)

    units = _units(lang)
    alternation = "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))

    def unit(m: re.Match) -> str:
        one, many = units[m.group("u")]
        if m.group("n") == "1" and not m.group("neg"):
            return f" {_ONE_BEFORE_NOUN.get(lang, cardinal(1, lang))} {one} "
        return f" {signed(m)} {many} "

    text = re.sub(rf"(?<![\w.,])(?P<neg>-)?(?P<n>{num})\s?(?P<u>{alternation})(?![\w/])", unit, text)

    text = re.sub(rf"(?<![\w.,])(?P<neg>-)?(?P<n>{num})\s?%", lambda m: f" {signed(m)} {data.percent} ", text)
    text = re.sub(
        rf"(?<![\w.,])(?P<neg>-)?(?P<n>{num})\s?°\s?C\b",
        lambda m: f" {signed(m)} {_DEGREES[lang]} {celsius} ",
        text,
    )
    return re.sub(r"(?<!\w)[Nn]°\s?(?=\d)", f" {_NUMBER_WORD[lang]} ", text)


def _ordinals(text: str, lang: str) -> str:
    if lang == "fr":
        forms = {"er": ("m", 1), "re": ("f", 1), "ère": ("f", 1), "nd": ("m", 2), "nde": ("f", 2)}

        def fr(m: re.Match) -> str:
            n, suf = int(m.group(1)), m.group(2)
            if suf in forms and n == forms[suf][1]:
                gender = forms[suf][0]
                words = ("seconde" if gender == "f" else "second") if n == 2 else ordinal(1, "fr", gender)
                return f" {words} "
            return f" {ordinal(n, 'fr')} "

        return re.sub(r"(?<![\w.,])(\d+)(ère|er|re|nde|nd|ème|eme|e)(?!\w)", fr, text)
    if lang == "de":
        months = "|".join(language("de").months)
        pattern = rf"(?<![\w.,])(\d{{1,3}})\.(?=\s+(?:(?:{months})\b|[a-zäöüß]))"
        text = re.sub(
            pattern,
            lambda m: f" {german_ordinal(int(m.group(1)), _german_ending(m.string, m.start()))} ",
            text,
        )
        return re.sub(
            r"\b((?i:am|im|vom|zum|beim|dem|den|des|der|die|das))\s+(\d{1,3})\.(?=\s+\w)",
            lambda m: f"{m.group(1)} {german_ordinal(int(m.group(2)), _ending_after(m.group(1)))} ",
            text,
        )
    if lang in ("es", "it", "pt"):

        def romance(m: re.Match) -> str:
            n, suf = int(m.group(1)), m.group(2)
            if lang == "es" and suf == "er":
                return f" {spanish_short_ordinal(n)} "
            words = ordinal(n, lang, "f" if suf.startswith("a") else "m")
            return f" {words}{'s' if suf.endswith('s') else ''} "

        suffixes = "os|as|o|a|°" + ("|er|ro|do|to|mo|vo|no" if lang == "es" else "")
        return re.sub(rf"(?<![\w.,])(\d+)\.?({suffixes})(?![\w°])", romance, text)
    if lang == "nl":
        return re.sub(
            r"(?<![\w.,])(\d+)(ste|de|e)(?!\w)", lambda m: f" {ordinal(int(m.group(1)), 'nl')} ", text
        )
    return text


def _ranges_and_numbers(text: str, lang: str) -> str:
    data = language(lang)
    num = _num_pattern(lang)

    def one(s: str) -> str:
        if lang in ("de", "nl", "hi") and re.fullmatch(r"[1-9]\d{3}", s):
            return year(int(s), lang)
        return read_number(s, lang)

    text = re.sub(
        rf"(?<![\w.,-])(?P<a>{num})\s?[–—]\s?(?P<b>{num})(?![\d])|"
        rf"(?<![\w.,-])(?P<c>{num})-(?P<d>{num})(?![\d-])",
        lambda m: (
            f" {one(m.group('a') or m.group('c'))} {data.range_word} {one(m.group('b') or m.group('d'))} "
        ),
        text,
    )
    text = re.sub(r"(?<![\w.,)\]-])-(?=\d)", f" {data.minus} ", text)
    text = re.sub(rf"(?<![\d.,])(?:{num})(?![\d])", lambda m: f" {one(m.group(0))} ", text)
    return re.sub(r"\d+", lambda m: f" {integer_string(m.group(0), lang)} ", text)


def expand_symbols(text: str, lang: str) -> str:
    """Pass 2 for a non-English language: every rule that needs digits or symbols."""
    data = language(lang)
    text = read_web(text, lang)
    for rule in (_dates, _times, _money, _measures, _ordinals, _ranges_and_numbers):
        text = rule(text, lang)
    text = read_web(text, lang)  # a URL a digit was glued to ("0www.x.com") is free now
    for symbol, words in (
        ("&", data.and_word),
        ("+", data.plus),
        ("@", data.url_words["@"]),
        ("%", data.percent),
        ("°", _DEGREES[lang]),
    ):
        text = text.replace(symbol, f" {words} ")
    return expand_dotted(text, lang)


def _french_centuries(text: str) -> str:
    """ "XXe siècle" -> "vingtième siècle", "XIXe" -> "dix-neuvième"."""
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}

    def read(m: re.Match) -> str:
        s, total = m.group(1), 0
        for i, c in enumerate(s):
            v = values[c]
            total += -v if i + 1 < len(s) and values[s[i + 1]] > v else v
        return f"{ordinal(total, 'fr')} {m.group(2)}"

    return re.sub(
        r"\b(?=[IVXLC])(C{0,3}(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3}))(?:e|ème)\s+(siècles?|millénaire)\b",
        read,
        text,
    )


def expand_words(text: str, lang: str) -> str:
    """Pass 4 for a non-English language: French centuries, acronyms, abbreviations."""
    text = expand_dotted(text, lang)
    if lang == "fr":
        text = _french_centuries(text)
    text = spell_acronyms(text, lang)
    return expand_abbreviations(text, lang)
