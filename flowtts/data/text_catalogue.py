"""Which Debian packages give text for which language, under which licence, read how.

The table follows the corpus research (shared/research/corpus-sources.md §6). Packages are only
downloaded and unpacked, never installed. Offensive collections are excluded by path: fortunes-off,
fortunes-es-off and fortunes-it-off are never listed, and the ``es/off/`` folder that the main
``fortunes-es`` package carries is skipped, as are the edgy English sets (men-women, ethnic, drugs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from flowtts.data import text_extract as tx

Reader = Callable[[Path], Iterable[str]]

# LibreOffice help: MAC/hidden variants, navigation and Basic code blocks are not prose; literal,
# keycode and input spans are function names, shortcuts and formulas inside sentences.
LO_HELP = tx.MarkupRules(
    skip_classes=frozenset(
        {
            "debug",
            "bascode",
            "code",
            "bug",
            "relatedtopics",
            "switch",
            "modules",
            "dropdowns",
            "index-label",
            "contents-treeview",
            "howtoget",
        }
    ),
    code_classes=frozenset({"literal", "keycode", "input"}),
)
# DocBook/Publican HTML (Debian handbook, debian-reference): commands, files and packages are code.
DOCBOOK = tx.MarkupRules(
    skip_tags=tx.MarkupRules().skip_tags | {"table"},
    skip_classes=frozenset(
        {
            "titlepage",
            "url",
            "toc",
            "navheader",
            "navfooter",
            "screen",
            "programlisting",
            "example",
            "informalexample",
            "docnav",
            "refentrytitle",
        }
    ),
    code_classes=frozenset(
        {
            "command",
            "literal",
            "filename",
            "computeroutput",
            "pkg",
            "keycap",
            "varname",
            "email",
            "citerefentry",
            "userinput",
            "replaceable",
            "option",
            "systemitem",
            "application",
            "package",
            "uri",
            "ulink",
            "envar",
            "function",
            "parameter",
        }
    ),
)


@dataclass(frozen=True)
class TextSource:
    """Files of one Debian package that yield sentences for one language."""

    package: str
    lang: str
    license: str
    kind: str  # a key of READERS
    patterns: tuple[str, ...]  # globs relative to the unpacked package root
    exclude: tuple[str, ...] = ()  # substrings or globs of paths to skip

    def files(self, root: Path) -> list[Path]:
        """The matching files (or module directories for SWORD) under the unpacked package."""
        if self.kind in ("sword", "wordnet"):
            return sorted(p for pat in self.patterns for p in root.glob(pat) if p.is_dir())
        return tx.iter_files(root, self.patterns, self.exclude)


READERS: dict[str, Reader] = {
    "fortune": tx.fortune_paragraphs,
    "lo-help": lambda p: tx.html_paragraphs(p, LO_HELP),
    "docbook": lambda p: tx.html_paragraphs(p, DOCBOOK),
    "sword": tx.sword_paragraphs,
    "wordnet": tx.wordnet_paragraphs,
    "mo": tx.mo_paragraphs,
    "xpi": tx.xpi_paragraphs,
    "man": tx.man_paragraphs,
    "ding-de": lambda p: tx.dict_phrases(p, side=0),
}

# Hunspell-style word lists for the language check (package, file under /usr/share/dict).
WORDLISTS: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (("wamerican", "american-english"), ("wbritish", "british-english")),
    "fr": (("wfrench", "french"),),
    "de": (("wngerman", "ngerman"),),
    "es": (("wspanish", "spanish"),),
    "it": (("witalian", "italian"),),
    "pt": (("wportuguese", "portuguese"), ("wbrazilian", "brazilian")),
    "nl": (("wdutch", "dutch"),),
}

FORTUNES = "usr/share/games/fortunes"
LO = "usr/share/libreoffice/help"
HB = "usr/share/doc/debian-handbook/html"
REF = "usr/share/debian-reference"
MAN = "usr/share/man"
LO_MO = "usr/lib/libreoffice/program/resource"
SWORD = "usr/share/sword/modules/texts/ztext"
FIREFOX_XPI = "usr/lib/firefox-esr/browser/extensions"
HANDBOOK_LICENSE = "GPL-2+ or CC-BY-SA-3.0"
FORTUNE_SKIP = (".dat", ".u8", "/off/")  # index files, symlinked copies, offensive sets
EN_FORTUNE_SKIP = FORTUNE_SKIP + ("/men-women", "/ethnic", "/drugs", "/ascii-art", "/perl")
DE_FORTUNE_SKIP = FORTUNE_SKIP + ("/asciiart", "/witze", "/warmduscher", "/channel-debian")
IT_FORTUNE_SKIP = FORTUNE_SKIP + ("/banner", "/luttazzi")


def _lo_help(lang: str, code: str) -> TextSource:
    return TextSource(
        f"libreoffice-help-{code.lower()}", lang, "MPL-2.0", "lo-help", (f"{LO}/{code}/text/**/*.html",)
    )


def _handbook(lang: str, code: str) -> TextSource:
    return TextSource("debian-handbook", lang, HANDBOOK_LICENSE, "docbook", (f"{HB}/{code}/*.html",))


def _reference(lang: str, code: str) -> TextSource:
    return TextSource(f"debian-reference-{code}", lang, "GPL-2+", "docbook", (f"{REF}/*.{code}.html",))


def _man(lang: str, pkg: str, code: str) -> TextSource:
    return TextSource(pkg, lang, "GPL-3+", "man", (f"{MAN}/{code}/man*/*.gz",))


CATALOGUE: tuple[TextSource, ...] = (
    # English
    TextSource("sword-text-web", "en", "public-domain", "sword", (f"{SWORD}/*",)),
    TextSource("fortunes-min", "en", "BSD-4-clause", "fortune", (f"{FORTUNES}/*",), FORTUNE_SKIP),
    TextSource("fortunes", "en", "BSD-4-clause", "fortune", (f"{FORTUNES}/*",), EN_FORTUNE_SKIP),
    TextSource("wordnet-base", "en", "WordNet-3.0", "wordnet", ("usr/share/wordnet",)),
    _lo_help("en", "en-US"),
    _handbook("en", "en-US"),
    _reference("en", "en"),
    # German
    _lo_help("de", "de"),
    TextSource("fortunes-de", "de", "GPL-2+", "fortune", (f"{FORTUNES}/de/*",), DE_FORTUNE_SKIP),
    TextSource("trans-de-en", "de", "GPL-2+", "ding-de", ("usr/share/trans/de-en",)),
    _man("de", "manpages-de", "de"),
    _handbook("de", "de-DE"),
    _reference("de", "de"),
    # French (bookworm has no French fortunes package)
    _lo_help("fr", "fr"),
    _man("fr", "manpages-fr", "fr"),
    _handbook("fr", "fr-FR"),
    _reference("fr", "fr"),
    # Spanish
    _lo_help("es", "es"),
    TextSource("sword-text-sparv", "es", "public-domain", "sword", (f"{SWORD}/*",)),
    TextSource("fortunes-es", "es", "GPL-2+", "fortune", (f"{FORTUNES}/es/*",), FORTUNE_SKIP),
    _man("es", "manpages-es", "es"),
    _handbook("es", "es-ES"),
    _reference("es", "es"),
    # Italian
    _lo_help("it", "it"),
    TextSource("fortunes-it", "it", "public-domain", "fortune", (f"{FORTUNES}/it/*",), IT_FORTUNE_SKIP),
    _man("it", "manpages-it", "it"),
    _handbook("it", "it-IT"),
    _reference("it", "it"),
    # Portuguese (Brazil and Portugal together)
    _lo_help("pt", "pt-BR"),
    _lo_help("pt", "pt"),
    TextSource("fortunes-br", "pt", "GPL-2+", "fortune", (f"{FORTUNES}/*",), FORTUNE_SKIP),
    _man("pt", "manpages-pt-br", "pt_BR"),
    _handbook("pt", "pt-BR"),
    _reference("pt", "pt"),
    _reference("pt", "pt-br"),
    # Dutch
    _lo_help("nl", "nl"),
    _man("nl", "manpages-nl", "nl"),
    _handbook("nl", "nl-NL"),
    # Arabic: thin; UI strings fill in
    _handbook("ar", "ar-MA"),
    TextSource("libreoffice-l10n-ar", "ar", "MPL-2.0", "mo", (f"{LO_MO}/ar/LC_MESSAGES/*.mo",)),
    TextSource("firefox-esr-l10n-ar", "ar", "MPL-2.0", "xpi", (f"{FIREFOX_XPI}/*.xpi",)),
    TextSource("thunderbird-l10n-ar", "ar", "MPL-2.0", "xpi", ("usr/lib/thunderbird/extensions/*.xpi",)),
    # Hindi: thinner still
    _lo_help("hi", "hi"),
    TextSource("libreoffice-l10n-hi", "hi", "MPL-2.0", "mo", (f"{LO_MO}/hi/LC_MESSAGES/*.mo",)),
    TextSource("firefox-esr-l10n-hi-in", "hi", "MPL-2.0", "xpi", (f"{FIREFOX_XPI}/*.xpi",)),
)


def sources_for(lang: str) -> list[TextSource]:
    """The catalogue entries of one language, in catalogue order (which decides dedup precedence)."""
    return [s for s in CATALOGUE if s.lang == lang]
