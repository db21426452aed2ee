"""Hindi number words, written here because ``num2words`` has no Hindi.

Hindi 0–99 are irregular (each is its own word: 21 इक्कीस, 37 सैंतीस, 99 निन्यानवे), so they are a
table; above that the Indian system counts in सौ (10²), हज़ार (10³), लाख (10⁵), करोड़ (10⁷),
अरब (10⁹) and खरब (10¹¹): 1,23,45,678 is "एक करोड़ तेईस लाख पैंतालीस हज़ार छह सौ अठहत्तर".
Spellings follow the common standard forms (पाँच, छह, सड़सठ).
"""

from __future__ import annotations

# 0..99, index = value.
_UNITS = (
    "शून्य एक दो तीन चार पाँच छह सात आठ नौ "
    "दस ग्यारह बारह तेरह चौदह पंद्रह सोलह सत्रह अठारह उन्नीस "
    "बीस इक्कीस बाईस तेईस चौबीस पच्चीस छब्बीस सत्ताईस अट्ठाईस उनतीस "
    "तीस इकतीस बत्तीस तैंतीस चौंतीस पैंतीस छत्तीस सैंतीस अड़तीस उनतालीस "
    "चालीस इकतालीस बयालीस तैंतालीस चवालीस पैंतालीस छियालीस सैंतालीस अड़तालीस उनचास "
    "पचास इक्यावन बावन तिरेपन चौवन पचपन छप्पन सत्तावन अट्ठावन उनसठ "
    "साठ इकसठ बासठ तिरसठ चौंसठ पैंसठ छियासठ सड़सठ अड़सठ उनहत्तर "
    "सत्तर इकहत्तर बहत्तर तिहत्तर चौहत्तर पचहत्तर छिहत्तर सतहत्तर अठहत्तर उन्यासी "
    "अस्सी इक्यासी बयासी तिरासी चौरासी पचासी छियासी सत्तासी अट्ठासी नवासी "
    "नब्बे इक्यानवे बानवे तिरानवे चौरानवे पचानवे छियानवे सत्तानवे अट्ठानवे निन्यानवे"
).split()

# Scales of the Indian system, largest first: (value, word).
_SCALES = ((10**11, "खरब"), (10**9, "अरब"), (10**7, "करोड़"), (10**5, "लाख"), (10**3, "हज़ार"), (100, "सौ"))

# Ordinals that are not "<cardinal> + वाँ".
_ORDINALS = {1: "पहला", 2: "दूसरा", 3: "तीसरा", 4: "चौथा", 6: "छठा"}


def hindi_cardinal(n: int) -> str:
    """Hindi words for a non-negative integer, e.g. 1999 -> "एक हज़ार नौ सौ निन्यानवे"."""
    if n < 0:
        raise ValueError("hindi_cardinal takes n >= 0; the caller says minus")
    if n < 100:
        return _UNITS[n]
    words: list[str] = []
    for value, word in _SCALES:
        if n >= value:
            count, n = divmod(n, value)
            # A count can itself exceed 99 above करोड़/खरब ("सौ करोड़"): recurse.
            words.append(f"{hindi_cardinal(count)} {word}")
    if n:
        words.append(_UNITS[n])
    return " ".join(words)


def hindi_ordinal(n: int) -> str:
    """Hindi masculine ordinal: 1 पहला, 2 दूसरा, 5 पाँचवाँ, 21 इक्कीसवाँ."""
    if n in _ORDINALS:
        return _ORDINALS[n]
    return hindi_cardinal(n) + "वाँ"


def hindi_year(n: int) -> str:
    """Years (and four-digit amounts) 1100–9999 are said in hundreds: 1999 -> "उन्नीस सौ निन्यानवे".

    Multiples of 1000 and years from 2000 to 2099 are said as ordinary numbers ("दो हज़ार इक्कीस"),
    which is how Hindi speakers read them.
    """
    hundreds, rest = divmod(n, 100)
    if not 11 <= hundreds <= 99 or n % 1000 == 0 or 2000 <= n < 2100:
        return hindi_cardinal(n)
    head = f"{_UNITS[hundreds]} सौ"
    return f"{head} {_UNITS[rest]}" if rest else head
