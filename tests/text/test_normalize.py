"""Normalizer behaviour: English in depth, the eight other languages' numbers, dates and times.

Every expected string here was written by hand from how a person reads the input, then checked
against the output; none is copied from the normalizer without reading it.
"""

from __future__ import annotations

import io
import sys

import pytest

from flowtts.cli import main
from flowtts.errors import FlowTTSError
from flowtts.text import SUPPORTED_LANGUAGES, normalize
from flowtts.text.numbers import cardinal, decimal, ordinal, year
from flowtts.text.numbers_hi import hindi_cardinal, hindi_ordinal, hindi_year

# The 20 tricky English inputs of the closing note, with what the normalizer must say.
TRICKY_EN = [
    (
        "The company raised $9.2 million in 2021.",
        "The company raised nine point two million dollars in twenty twenty-one.",
    ),
    (
        "Dr. Smith lives at 221 Baker St. in London.",
        "Doctor Smith lives at two hundred twenty-one Baker Street in London.",
    ),
    (
        "Call (555) 123-4567 before 7am.",
        "Call five five five, one two three, four five six seven before seven a m.",
    ),
    ("It's 3:45 pm on March 3, 2021.", "It's three forty-five p m on March third, twenty twenty-one."),
    (
        "Prices rose 12.5% between 1999 and 2005.",
        "Prices rose twelve point five percent between nineteen ninety-nine and two thousand five.",
    ),
    (
        "The 1990s were the best; the '80s were close.",
        "The nineteen nineties were the best; the eighties were close.",
    ),
    ("Meet me on 3/14/2015 at 14:30.", "Meet me on March fourteenth, twenty fifteen at fourteen thirty."),
    (
        "The FBI, the CIA and NASA met in the U.S. capital.",
        "The F B I, the C I A and NASA met in the U S capital.",
    ),
    (
        "Email jane.doe@example.org or visit https://example.com/a-b.",
        "Email jane dot doe at example dot org or visit example dot com slash a dash b.",
    ),
    (
        "It was -5°C with 100 km/h winds.",
        "It was minus five degrees Celsius with one hundred kilometers per hour winds.",
    ),
    (
        "She finished 1st, he was 22nd, and they were 103rd.",
        "She finished first, he was twenty-second, and they were one hundred third.",
    ),
    (
        "Add 1/2 cup and 3 3/4 cups, i.e. a lot.",
        "Add one half cup and three and three quarters cups, that is a lot.",
    ),
    ("Chapter IV: Henry VIII vs. the Pope.", "Chapter four: Henry the eighth versus the Pope."),
    (
        "Population: 1,234,567 people; code 007.",
        "Population: one million two hundred thirty-four thousand five hundred sixty-seven people; "
        "code zero zero seven.",
    ),
    ("Tom & Jerry scored 10-20 on No. 5.", "Tom and Jerry scored ten to twenty on number five."),
    (
        "The chip is 3x faster at 3.2 GHz with 16 GB.",
        "The chip is three times faster at three point two gigahertz with sixteen gigabytes.",
    ),
    (
        "€1,200 or £3.50 or ¥500?",
        "one thousand two hundred euros or three pounds and fifty pence or five hundred yen?",
    ),
    ("Room #1 costs $0.99, e.g. cheap.", "Room number one costs ninety-nine cents, for example cheap."),
    (
        "Mrs. Lee arrived at 10:05 a.m. The meeting ended at 12:00.",
        "Missus Lee arrived at ten oh five a m. The meeting ended at twelve o'clock.",
    ),
    (
        "ＦＵＬＬ-width １２３, Arabic ٣٤ and Devanagari ५६.",
        "FULL-width one hundred twenty-three, Arabic thirty-four and Devanagari fifty-six.",
    ),
]


@pytest.mark.parametrize(("raw", "spoken"), TRICKY_EN)
def test_tricky_english(raw: str, spoken: str) -> None:
    assert normalize(raw, "en") == spoken


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        # numbers, decimals, negatives, leading zeros, large numbers
        ("9.2 million", "nine point two million"),
        ("3.14", "three point one four"),
        (".5", "point five"),
        ("-7", "minus seven"),
        ("0042", "zero zero four two"),
        ("101", "one hundred one"),
        ("1,000,000", "one million"),
        ("5551234567", "five five five one two three four five six seven"),
        # money
        ("$3.50", "three dollars and fifty cents"),
        ("$1", "one dollar"),
        ("$1.01", "one dollar and one cent"),
        ("$2.5bn", "two point five billion dollars"),
        ("10 USD", "ten dollars"),
        ("50¢", "fifty cents"),
        # ordinals and years
        ("1st 2nd 3rd 4th 11th 21st", "first second third fourth eleventh twenty-first"),
        ("1999", "nineteen ninety-nine"),
        ("2005", "two thousand five"),
        ("2021", "twenty twenty-one"),
        ("1905", "nineteen oh five"),
        ("1900", "nineteen hundred"),
        ("2000 cars", "two thousand cars"),
        ("1999 people", "one thousand nine hundred ninety-nine people"),
        ("in the 1990s", "in the nineteen nineties"),
        ("the 2000s", "the two thousands"),
        ("1999-2005", "nineteen ninety-nine to two thousand five"),
        # dates
        ("March 3, 2021", "March third, twenty twenty-one"),
        ("Sept. 5", "September fifth"),
        ("3 March 2021", "the third of March, twenty twenty-one"),
        ("on the 3rd of March", "on the third of March"),
        ("3/14/2015", "March fourteenth, twenty fifteen"),
        ("14/3/2015", "the fourteenth of March, twenty fifteen"),
        ("2021-03-14", "March fourteenth, twenty twenty-one"),
        # times
        ("3:45 pm", "three forty-five p m"),
        ("3:05", "three oh five"),
        ("14:30", "fourteen thirty"),
        ("14:00", "fourteen hundred"),
        ("7am", "seven a m"),
        ("7 p.m.", "seven p m."),
        ("10:30:15", "ten thirty and fifteen seconds"),
        # percent and units
        ("50%", "fifty percent"),
        ("5 km", "five kilometers"),
        ("1 km", "one kilometer"),
        ("3.2 kg", "three point two kilograms"),
        ("100 km/h", "one hundred kilometers per hour"),
        ("20°C", "twenty degrees Celsius"),
        ("5-10 km", "five to ten kilometers"),
        ("40 m^2", "forty square meters"),
        # fractions, ranges, multiplication, numbering
        ("1/2", "one half"),
        ("3/4", "three quarters"),
        ("2/3", "two thirds"),
        ("3 1/2", "three and a half"),
        ("10-20", "ten to twenty"),
        ("10–20", "ten to twenty"),
        ("3x4", "three by four"),
        ("No. 5", "number five"),
        ("#1", "number one"),
        ("½", "one half"),
        # abbreviations
        ("Dr. Smith", "Doctor Smith"),
        ("Mr. and Mrs. Smith", "Mister and Missus Smith"),
        ("St. Louis", "Saint Louis"),
        ("on Main St.", "on Main Street."),
        ("apples, pears, etc. Then we left.", "apples, pears, et cetera. Then we left."),
        ("e.g. this", "for example this"),
        ("i.e. that", "that is that"),
        ("cats vs. dogs", "cats versus dogs"),
        # acronyms
        ("the FBI", "the F B I"),
        ("NASA", "NASA"),
        ("two CDs", "two C D's"),
        ("U.S.A.", "U S A."),
        ("THIS IS REALLY BIG NEWS", "this is really big news"),
        ("MP3", "M P three"),
        # web
        ("https://example.com/a-b", "example dot com slash a dash b"),
        ("www.example.org", "w w w dot example dot org"),
        ("jane.doe@example.org", "jane dot doe at example dot org"),
        ("+44 20 7946 0958", "plus four four, two zero, seven nine four six, zero nine five eight"),
        # symbols
        ("Tom & Jerry", "Tom and Jerry"),
        ("C++", "C plus plus"),
        ("~5", "about five"),
        ("he/she", "he or she"),
        # things that went wrong once
        ("5'10\" tall", "five feet ten inches tall"),
        ("16:9", "sixteen to nine"),
        ("COVID-19", "COVID nineteen"),
        ("a 3-year-old", "a three year-old"),
        ("AT&T", "A T and T"),
        ("on 12/25", "on December twenty-fifth"),
        ("3/16 inch", "three sixteenths inch"),
        ("see p. 42", "see page forty-two"),
        ("2008-09", "two thousand eight to oh nine"),
        ("the 1st of Jan.", "the first of January."),
        # roman numerals: only in safe contexts
        ("World War II", "World War two"),
        ("Louis XIV", "Louis the fourteenth"),
        ("Type C", "Type C"),
    ],
)
def test_english(raw: str, spoken: str) -> None:
    assert normalize(raw, "en") == spoken


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        ("  Hello \t\n world  ", "Hello world"),
        ("Hello\x00 wor\u200bld\x07!", "Hello world!"),
        ("Wait!!! Really?!", "Wait! Really?"),
        ("Well.... ok", "Well... ok"),
        ("(see below)", "see below,"),
        ("A — B", "A, B"),
        ("“Quoted” «text»", "Quoted text"),
        ("First paragraph\n\nSecond", "First paragraph. Second"),
        ("ﬁne", "fine"),
    ],
)
def test_unicode_and_punctuation(raw: str, spoken: str) -> None:
    assert normalize(raw, "en") == spoken


LANGUAGE_CASES = {
    "fr": [
        ("3,5", "trois virgule cinq"),
        ("1 000 000", "un million"),
        ("1.500 personnes", "mille cinq cents personnes"),
        ("21", "vingt et un"),
        ("Le 14/03/2021.", "Le quatorze mars deux mille vingt et un."),
        ("le 1er mars", "le premier mars"),
        ("la 1re fois, le 2e jour", "la première fois, le deuxième jour"),
        ("à 14h30", "à quatorze heures trente"),
        ("à 21h", "à vingt et une heures"),
        ("à 1h", "à une heure"),
        ("50 %", "cinquante pour cent"),
        ("3,50 €", "trois euros cinquante"),
        ("-5 °C", "moins cinq degrés Celsius"),
        ("le XXe siècle", "le vingtième siècle"),
        ("M. Dupont", "Monsieur Dupont"),
        ("1 km et 2,5 km", "un kilomètre et deux virgule cinq kilomètres"),
    ],
    "de": [
        ("3,5", "drei Komma fünf"),
        ("1.000", "eintausend"),
        ("1.000,50", "eintausend Komma fünf null"),
        ("21", "einundzwanzig"),
        ("Am 14.03.2021", "Am vierzehnten März zweitausendeinundzwanzig"),
        ("Berlin, 14. März 1999", "Berlin, vierzehnter März neunzehnhundertneunundneunzig"),
        ("der 3. Platz", "der dritte Platz"),
        ("Er wurde 3. Das war gut.", "Er wurde drei. Das war gut."),
        ("um 14:30 Uhr", "um vierzehn Uhr dreißig"),
        ("um 14.30 Uhr", "um vierzehn Uhr dreißig"),
        ("um 1 Uhr", "um ein Uhr"),
        ("50 %", "fünfzig Prozent"),
        ("2,50 €", "zwei Euro fünfzig"),
        ("z.B. das", "zum Beispiel das"),
        ("1,85 m und 120 km/h", "eins Komma acht fünf Meter und einhundertzwanzig Kilometer pro Stunde"),
    ],
    "es": [
        ("3,5", "tres coma cinco"),
        ("1.000", "mil"),
        ("21", "veintiuno"),
        ("el 14/03/2021", "el catorce de marzo de dos mil veintiuno"),
        ("el 1 de mayo", "el primero de mayo"),
        ("el 1º y la 2ª", "el primero y la segunda"),
        ("el 1er día", "el primer día"),
        ("a las 14:30", "a las catorce y treinta"),
        ("a la 1:00", "a la una en punto"),
        ("50 %", "cincuenta por ciento"),
        ("3,50 €", "tres euros con cincuenta"),
    ],
    "it": [
        ("3,5", "tre virgola cinque"),
        ("1.000", "mille"),
        ("il 14/03/2021", "il quattordici marzo duemilaventuno"),
        ("il 1° posto e la 2ª volta", "il primo posto e la seconda volta"),
        ("alle 14:30", "alle quattordici e trenta"),
        ("alle 14:00", "alle quattordici"),
        ("50%", "cinquanta per cento"),
    ],
    "pt": [
        ("3,5", "três vírgula cinco"),
        ("1.000", "mil"),
        ("21", "vinte e um"),
        ("em 14/03/2021", "em catorze de março de dois mil e vinte e um"),
        ("o 1º lugar e a 2ª vez", "o primeiro lugar e a segunda vez"),
        ("às 14h30", "às catorze e trinta"),
        ("às 2h", "às duas horas"),
        ("nº 5", "número cinco"),
        ("50%", "cinquenta por cento"),
    ],
    "nl": [
        ("3,5", "drie komma vijf"),
        ("1.000", "duizend"),
        ("101", "honderdeen"),
        ("op 14-03-2021", "op veertien maart tweeduizendeenentwintig"),
        ("in 1999", "in negentienhonderdnegenennegentig"),
        ("de 1e en 8ste", "de eerste en achtste"),
        ("om 14.30 uur", "om veertien uur dertig"),
        ("om 14 uur", "om veertien uur"),
        ("50%", "vijftig procent"),
    ],
    "ar": [
        ("3.5", "ثلاثة فاصلة خمسة"),
        ("٣٫٥", "ثلاثة فاصلة خمسة"),
        ("١٢٣", "مائة وثلاثة وعشرون"),
        ("1,000", "ألف"),
        ("14/03/2021", "أربعة عشر مارس ألفان وواحد وعشرون"),
        ("14:30", "أربعة عشر وثلاثون"),
        ("50%", "خمسون بالمئة"),
        ("+966 50 123", "زائد تسعة ستة ستة، خمسة صفر، واحد اثنان ثلاثة"),
    ],
    "hi": [
        ("3.5", "तीन दशमलव पाँच"),
        ("१२३", "एक सौ तेईस"),
        ("1,00,000", "एक लाख"),
        ("1999 में", "उन्नीस सौ निन्यानवे में"),
        ("14/03/2021", "चौदह मार्च दो हज़ार इक्कीस"),
        ("14:30 बजे", "चौदह बजकर तीस मिनट"),
        ("9:00", "नौ बजे"),
        ("50%", "पचास प्रतिशत"),
        ("₹1,250", "एक हज़ार दो सौ पचास रुपये"),
        ("₹99.50", "निन्यानवे रुपये पचास पैसे"),
    ],
}


@pytest.mark.parametrize(
    ("lang", "raw", "spoken"),
    [(lang, raw, spoken) for lang, cases in LANGUAGE_CASES.items() for raw, spoken in cases],
)
def test_other_languages(lang: str, raw: str, spoken: str) -> None:
    assert normalize(raw, lang) == spoken


def test_every_supported_language_has_cases() -> None:
    assert set(LANGUAGE_CASES) | {"en"} == set(SUPPORTED_LANGUAGES)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "शून्य"),
        (5, "पाँच"),
        (11, "ग्यारह"),
        (19, "उन्नीस"),
        (29, "उनतीस"),
        (37, "सैंतीस"),
        (48, "अड़तालीस"),
        (59, "उनसठ"),
        (67, "सड़सठ"),
        (79, "उन्यासी"),
        (89, "नवासी"),
        (99, "निन्यानवे"),
        (100, "एक सौ"),
        (1000, "एक हज़ार"),
        (100000, "एक लाख"),
        (12345678, "एक करोड़ तेईस लाख पैंतालीस हज़ार छह सौ अठहत्तर"),
        (10**9 * 5, "पाँच अरब"),
        (10**9 * 100, "एक खरब"),
    ],
)
def test_hindi_cardinals(n: int, words: str) -> None:
    assert hindi_cardinal(n) == words


def test_hindi_ordinals_and_years() -> None:
    assert [hindi_ordinal(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [
        "पहला",
        "दूसरा",
        "तीसरा",
        "चौथा",
        "पाँचवाँ",
        "छठा",
        "सातवाँ",
    ]
    assert hindi_year(1947) == "उन्नीस सौ सैंतालीस"
    assert hindi_year(2021) == "दो हज़ार इक्कीस"
    assert hindi_year(1900) == "उन्नीस सौ"


def test_number_helpers() -> None:
    assert cardinal(1999, "en") == "one thousand nine hundred ninety-nine"
    assert decimal("3", "5", "ar") == "ثلاثة فاصلة خمسة"
    assert decimal("3", "14", "fr") == "trois virgule quatorze"
    assert decimal("3", "05", "fr") == "trois virgule zéro cinq"
    assert ordinal(21, "es", "f") == "vigésima primera"
    assert year(1999, "de") == "neunzehnhundertneunundneunzig"
    assert cardinal(10**20, "en") == " ".join(["one"] + ["zero"] * 20)  # past MAX_CARDINAL: digits


def test_unsupported_language_is_a_flowtts_error() -> None:
    with pytest.raises(FlowTTSError, match="unsupported language"):
        normalize("hello", "xx")


def test_cli_normalize_argument_and_stdin(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["text", "normalize", "--lang", "en", "It costs $3.50."]) == 0
    assert capsys.readouterr().out == "It costs three dollars and fifty cents.\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO("14h30\n1er mai\n"))
    assert main(["text", "normalize", "--lang", "fr"]) == 0
    assert capsys.readouterr().out == "quatorze heures trente\npremier mai\n"
