"""English money and measures: "$3.50", "€1,200", "$9.2 million", "5 km", "20°C", "50%", "5-10 kg".

Split from ``normalize_en`` because the unit table is long. Plurals follow the number: singular only
for exactly "1" ("1 km" -> "one kilometer", "1.0 km" -> "one point zero kilometers").
"""

from __future__ import annotations

import functools
import re

from flowtts.text.languages import Currency, language
from flowtts.text.numbers import cardinal, decimal, integer_string

# A number token: thousands-grouped ("1,234,567.89") or plain ("42", "3.14").
NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"


def read_number(s: str) -> str:
    """Reads a number token: "1,234" (a thousands-grouped amount), "9.2", "007", "42"."""
    grouped = "," in s
    s = s.replace(",", "")
    if "." in s:
        whole, _, frac = s.partition(".")
        return decimal(whole, frac, "en")
    # Thousands separators say "amount", whatever the length; a bare long run is a code.
    return cardinal(int(s), "en") if grouped else integer_string(s, "en")


def _money_amount(num: str, cur: Currency, scale: str | None) -> str:
    """Words for an amount in one currency: "3.50" -> "three dollars and fifty cents"."""
    if scale:
        return f"{read_number(num)} {scale} {cur.many}"
    whole, _, frac = num.replace(",", "").partition(".")
    if frac and len(frac) == 2 and cur.sub_many:
        major, minor = int(whole or 0), int(frac)
        parts = []
        if major or not minor:
            parts.append(f"{cardinal(major, 'en')} {cur.one if major == 1 else cur.many}")
        if minor:
            parts.append(f"{cardinal(minor, 'en')} {cur.sub_one if minor == 1 else cur.sub_many}")
        return " and ".join(parts)
    if frac:
        return f"{read_number(num)} {cur.many}"
    return f"{read_number(whole)} {cur.one if whole == '1' else cur.many}"


_SCALES = {
    "k": "thousand",
    "K": "thousand",
    "m": "million",
    "M": "million",
    "bn": "billion",
    "b": "billion",
    "B": "billion",
}
_CODES = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


def read_money(text: str) -> str:
    """Amounts with a currency symbol or code before or after them."""
    currencies = language("en").currencies
    syms = "".join(re.escape(s) for s in currencies)

    def read(m: re.Match) -> str:
        sym = m.group("sym").strip()
        cur = currencies[_CODES.get(sym, sym)]
        scale = m.group("scale") or _SCALES.get(m.group("short") or "")
        neg = "minus " if m.groupdict().get("neg") else ""
        return f" {neg}{_money_amount(m.group('num'), cur, scale)} "

    scale = r"(?:\s?(?P<scale>thousand|million|billion|trillion)\b|(?P<short>k|K|m|M|bn|b|B)\b)?"
    text = re.sub(rf"(?P<neg>-)?(?P<sym>[{syms}]|(?:USD|EUR|GBP)\s?)\s?(?P<num>{NUM}){scale}", read, text)
    text = re.sub(
        rf"(?<![\w.,])(?P<num>{NUM})\s?(?P<sym>[{syms}]|USD|EUR|GBP|JPY|INR)(?!\w)"
        r"(?P<scale>)(?P<short>)",
        read,
        text,
    )
    return re.sub(
        r"(?<![\w.,])(\d+)\s?¢",
        lambda m: f" {read_number(m.group(1))} cent" + ("" if m.group(1) == "1" else "s") + " ",
        text,
    )


# Units after a number: symbol -> (singular, plural). Only symbols that are unambiguous after a number
# ("in", "s", "t", "K" are left alone: "5 in a row").
_UNITS: dict[str, tuple[str, str]] = {
    "mm": ("millimeter", "millimeters"),
    "cm": ("centimeter", "centimeters"),
    "m": ("meter", "meters"),
    "km": ("kilometer", "kilometers"),
    "μm": ("micrometer", "micrometers"),
    "nm": ("nanometer", "nanometers"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "mi": ("mile", "miles"),
    "mph": ("mile per hour", "miles per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "m/s": ("meter per second", "meters per second"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "kg": ("kilogram", "kilograms"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "L": ("liter", "liters"),
    "cl": ("centiliter", "centiliters"),
    "gal": ("gallon", "gallons"),
    "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "W": ("watt", "watts"),
    "kW": ("kilowatt", "kilowatts"),
    "MW": ("megawatt", "megawatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "V": ("volt", "volts"),
    "mV": ("millivolt", "millivolts"),
    "mA": ("milliamp", "milliamps"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "kcal": ("kilocalorie", "kilocalories"),
    "cal": ("calorie", "calories"),
    "dB": ("decibel", "decibels"),
    "hPa": ("hectopascal", "hectopascals"),
    "kPa": ("kilopascal", "kilopascals"),
    "psi": ("p s i", "p s i"),
    "ha": ("hectare", "hectares"),
    "ppm": ("part per million", "parts per million"),
    "m^2": ("square meter", "square meters"),
    "km^2": ("square kilometer", "square kilometers"),
    "cm^2": ("square centimeter", "square centimeters"),
    "ft^2": ("square foot", "square feet"),
    "m^3": ("cubic meter", "cubic meters"),
    "cm^3": ("cubic centimeter", "cubic centimeters"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "° C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "° F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "%": ("percent", "percent"),
    "‰": ("per mille", "per mille"),
}


@functools.lru_cache(maxsize=1)
def _quantity_pattern() -> re.Pattern:
    units = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
    return re.compile(
        rf"(?<![\w.,])(?P<neg>-)?(?P<a>{NUM})(?:\s?(?:-|–|to)\s?(?P<b>{NUM}))?\s?(?P<unit>{units})(?![\w])"
    )


def read_quantities(text: str) -> str:
    """Number (or range) + unit: "5 km", "3.2 kg", "100 km/h", "20°C", "50%", "5-10 km"."""

    def read(m: re.Match) -> str:
        one, many = _UNITS[m.group("unit")]
        a, b = m.group("a"), m.group("b")
        words = ("minus " if m.group("neg") else "") + read_number(a)
        if b:
            words += f" to {read_number(b)}"
        return f" {words} {one if a == '1' and not b and not m.group('neg') else many} "

    return _quantity_pattern().sub(read, text)
