"""Per-language words and conventions the normalizer needs, as data (one frozen record per language).

Everything language-specific that is a *word list* lives here; the rules that use it live in
``normalize_en.py`` (English) and ``normalize_intl.py`` (the other eight languages). Keeping the
words in one table makes it easy to review a language at a glance and to add one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowtts.constants import LANGUAGES
from flowtts.errors import FlowTTSError


@dataclass(frozen=True)
class Currency:
    """How one currency is read: ``one``/``many`` units and ``sub_one``/``sub_many`` sub-units."""

    one: str
    many: str
    sub_one: str = ""
    sub_many: str = ""


@dataclass(frozen=True)
class LanguageData:
    """The words and number conventions of one language.

    ``decimal_comma``: "3,5" is three point five (and "3.5" is also read as a decimal when it cannot be
    a thousands group). ``thousands_dot``: "1.000" (exactly three digits after each dot) is a thousand.
    """

    code: str
    decimal_word: str
    percent: str
    minus: str
    plus: str
    and_word: str
    range_word: str  # "10-20" -> "ten <range_word> twenty"
    months: tuple[str, ...]
    url_words: dict[str, str]  # "." "@" "/" "-" "_" ":" -> words
    currencies: dict[str, Currency]  # symbol -> names
    cents_joiner: str = " "  # "3,50 €" -> "<three> <euros><joiner><fifty>"
    decimal_comma: bool = True
    thousands_dot: bool = True
    frac_as_number: bool = True  # "3,14" -> "... fourteen" (else digit by digit)
    uppercase_stopwords: frozenset[str] = field(default_factory=frozenset)


_EURO = "€"
_URL_EN = {".": "dot", "@": "at", "/": "slash", "-": "dash", "_": "underscore", ":": "colon"}

_DATA: dict[str, LanguageData] = {
    "en": LanguageData(
        code="en",
        decimal_word="point",
        percent="percent",
        minus="minus",
        plus="plus",
        and_word="and",
        range_word="to",
        months=(
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        url_words=_URL_EN,
        currencies={
            "$": Currency("dollar", "dollars", "cent", "cents"),
            _EURO: Currency("euro", "euros", "cent", "cents"),
            "£": Currency("pound", "pounds", "penny", "pence"),
            "¥": Currency("yen", "yen"),
            "₹": Currency("rupee", "rupees", "paisa", "paise"),
            "₩": Currency("won", "won"),
            "₽": Currency("ruble", "rubles", "kopek", "kopeks"),
        },
        cents_joiner=" and ",
        decimal_comma=False,
        thousands_dot=False,
        frac_as_number=False,
        uppercase_stopwords=frozenset(
            "A I AN AND ARE AS AT BE BUT BY DO FOR GO HE IF IN IS IT ME MY NO NOT OF OH OK ON OR SO THE "
            "TO UP WE YES YOU ALL CAN GET HAS HAD HER HIM HIS HOW NEW NOW OUR OUT SEE SHE TOO TWO WAS WAY "
            "WHO WHY YOUR BIG BAD ANY ONE OFF OWN".split()
        ),
    ),
    "fr": LanguageData(
        code="fr",
        decimal_word="virgule",
        percent="pour cent",
        minus="moins",
        plus="plus",
        and_word="et",
        range_word="à",
        months=(
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),
        url_words={
            ".": "point",
            "@": "arobase",
            "/": "barre oblique",
            "-": "tiret",
            "_": "tiret bas",
            ":": "deux-points",
        },
        currencies={
            _EURO: Currency("euro", "euros", "centime", "centimes"),
            "$": Currency("dollar", "dollars", "cent", "cents"),
            "£": Currency("livre", "livres", "penny", "pence"),
        },
        uppercase_stopwords=frozenset("A LE LA LES UN UNE DES ET EST DE DU EN IL ELLE ON NE PAS".split()),
    ),
    "de": LanguageData(
        code="de",
        decimal_word="Komma",
        percent="Prozent",
        minus="minus",
        plus="plus",
        and_word="und",
        range_word="bis",
        months=(
            "Januar",
            "Februar",
            "März",
            "April",
            "Mai",
            "Juni",
            "Juli",
            "August",
            "September",
            "Oktober",
            "November",
            "Dezember",
        ),
        url_words={
            ".": "Punkt",
            "@": "at",
            "/": "Schrägstrich",
            "-": "Bindestrich",
            "_": "Unterstrich",
            ":": "Doppelpunkt",
        },
        currencies={
            _EURO: Currency("Euro", "Euro", "Cent", "Cent"),
            "$": Currency("Dollar", "Dollar", "Cent", "Cent"),
            "£": Currency("Pfund", "Pfund", "Penny", "Pence"),
        },
        frac_as_number=False,
        uppercase_stopwords=frozenset("DER DIE DAS UND IST EIN ES ER SIE WIR IN IM AM UM ZU NICHT".split()),
    ),
    "es": LanguageData(
        code="es",
        decimal_word="coma",
        percent="por ciento",
        minus="menos",
        plus="más",
        and_word="y",
        range_word="a",
        months=(
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ),
        url_words={
            ".": "punto",
            "@": "arroba",
            "/": "barra",
            "-": "guion",
            "_": "guion bajo",
            ":": "dos puntos",
        },
        currencies={
            _EURO: Currency("euro", "euros", "céntimo", "céntimos"),
            "$": Currency("dólar", "dólares", "centavo", "centavos"),
            "£": Currency("libra", "libras", "penique", "peniques"),
        },
        cents_joiner=" con ",
        uppercase_stopwords=frozenset("A EL LA LOS LAS UN UNA Y DE EN ES NO QUE SE".split()),
    ),
    "it": LanguageData(
        code="it",
        decimal_word="virgola",
        percent="per cento",
        minus="meno",
        plus="più",
        and_word="e",
        range_word="a",
        months=(
            "gennaio",
            "febbraio",
            "marzo",
            "aprile",
            "maggio",
            "giugno",
            "luglio",
            "agosto",
            "settembre",
            "ottobre",
            "novembre",
            "dicembre",
        ),
        url_words={
            ".": "punto",
            "@": "chiocciola",
            "/": "barra",
            "-": "trattino",
            "_": "trattino basso",
            ":": "due punti",
        },
        currencies={
            _EURO: Currency("euro", "euro", "centesimo", "centesimi"),
            "$": Currency("dollaro", "dollari", "centesimo", "centesimi"),
            "£": Currency("sterlina", "sterline", "penny", "pence"),
        },
        cents_joiner=" e ",
        uppercase_stopwords=frozenset("A E IL LA LO LE GLI UN UNA DI DA IN CHE NON".split()),
    ),
    "pt": LanguageData(
        code="pt",
        decimal_word="vírgula",
        percent="por cento",
        minus="menos",
        plus="mais",
        and_word="e",
        range_word="a",
        months=(
            "janeiro",
            "fevereiro",
            "março",
            "abril",
            "maio",
            "junho",
            "julho",
            "agosto",
            "setembro",
            "outubro",
            "novembro",
            "dezembro",
        ),
        url_words={
            ".": "ponto",
            "@": "arroba",
            "/": "barra",
            "-": "hífen",
            "_": "sublinhado",
            ":": "dois pontos",
        },
        currencies={
            _EURO: Currency("euro", "euros", "cêntimo", "cêntimos"),
            "$": Currency("dólar", "dólares", "centavo", "centavos"),
            "£": Currency("libra", "libras", "péni", "pence"),
            "R$": Currency("real", "reais", "centavo", "centavos"),
        },
        cents_joiner=" e ",
        uppercase_stopwords=frozenset("A E O OS AS UM UMA DE DO DA EM NAO QUE SE".split()),
    ),
    "nl": LanguageData(
        code="nl",
        decimal_word="komma",
        percent="procent",
        minus="min",
        plus="plus",
        and_word="en",
        range_word="tot",
        months=(
            "januari",
            "februari",
            "maart",
            "april",
            "mei",
            "juni",
            "juli",
            "augustus",
            "september",
            "oktober",
            "november",
            "december",
        ),
        url_words={
            ".": "punt",
            "@": "apenstaartje",
            "/": "slash",
            "-": "streepje",
            "_": "underscore",
            ":": "dubbele punt",
        },
        currencies={
            _EURO: Currency("euro", "euro", "cent", "cent"),
            "$": Currency("dollar", "dollar", "cent", "cent"),
            "£": Currency("pond", "pond", "penny", "pence"),
        },
        uppercase_stopwords=frozenset("DE HET EEN EN IS IN OP TE VAN NIET DAT".split()),
    ),
    "ar": LanguageData(
        code="ar",
        decimal_word="فاصلة",
        percent="بالمئة",
        minus="سالب",
        plus="زائد",
        and_word="و",
        range_word="إلى",
        months=(
            "يناير",
            "فبراير",
            "مارس",
            "أبريل",
            "مايو",
            "يونيو",
            "يوليو",
            "أغسطس",
            "سبتمبر",
            "أكتوبر",
            "نوفمبر",
            "ديسمبر",
        ),
        url_words={".": "نقطة", "@": "آت", "/": "شرطة مائلة", "-": "شرطة", "_": "شرطة سفلية", ":": "نقطتان"},
        currencies={
            _EURO: Currency("يورو", "يورو"),
            "$": Currency("دولار", "دولار"),
            "£": Currency("جنيه", "جنيه"),
        },
        cents_joiner=" و",
        decimal_comma=False,
        thousands_dot=False,
    ),
    "hi": LanguageData(
        code="hi",
        decimal_word="दशमलव",
        percent="प्रतिशत",
        minus="माइनस",
        plus="प्लस",
        and_word="और",
        range_word="से",
        months=(
            "जनवरी",
            "फ़रवरी",
            "मार्च",
            "अप्रैल",
            "मई",
            "जून",
            "जुलाई",
            "अगस्त",
            "सितंबर",
            "अक्टूबर",
            "नवंबर",
            "दिसंबर",
        ),
        url_words={".": "डॉट", "@": "एट", "/": "स्लैश", "-": "डैश", "_": "अंडरस्कोर", ":": "कोलन"},
        currencies={
            "₹": Currency("रुपया", "रुपये", "पैसा", "पैसे"),
            "$": Currency("डॉलर", "डॉलर"),
            _EURO: Currency("यूरो", "यूरो"),
        },
        decimal_comma=False,
        thousands_dot=False,
        frac_as_number=False,
    ),
}


def language(lang: str) -> LanguageData:
    """The record for ``lang`` (ISO 639-1).

    Raises:
        FlowTTSError: the language is not supported.
    """
    try:
        return _DATA[lang]
    except KeyError:
        raise FlowTTSError(f"unsupported language {lang!r} (supported: {', '.join(LANGUAGES)})") from None
