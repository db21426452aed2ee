"""Readers that pull raw paragraphs out of the file formats Debian text packages ship.

Each reader yields paragraphs (unsplit, unfiltered strings); :mod:`flowtts.data.text_filter` does the
rest. Inline code or literal markup is replaced by :data:`~flowtts.data.text_filter.CODE_MARK` so the
sentence around it is dropped rather than read with a hole in it.
"""

from __future__ import annotations

import gzip
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from flowtts.data.text_filter import CODE_MARK

_VOID = {"br", "img", "input", "meta", "link", "hr", "area", "base", "col", "wbr", "source"}
_BLOCK = {
    "p",
    "div",
    "li",
    "td",
    "th",
    "dt",
    "dd",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "blockquote",
    "section",
    "ul",
    "ol",
    "dl",
    "title",
    "body",
    "l",
    "lg",
    "figure",
    "caption",
}


@dataclass
class MarkupRules:
    """Which elements a markup reader skips (with content) and which count as inline code."""

    skip_tags: frozenset[str] = frozenset(
        {
            "script",
            "style",
            "head",
            "header",
            "aside",
            "nav",
            "footer",
            "pre",
            "note",
            "title",
            "noscript",
            "svg",
            "object",
        }
    )
    skip_classes: frozenset[str] = frozenset()
    code_tags: frozenset[str] = frozenset({"code", "kbd", "samp", "tt", "var"})
    code_classes: frozenset[str] = frozenset()


class _Paragraphs(HTMLParser):
    """Collects the text of block elements, honouring :class:`MarkupRules`."""

    def __init__(self, rules: MarkupRules) -> None:
        super().__init__(convert_charrefs=True)
        self.rules = rules
        self.out: list[str] = []
        self._buf: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, whether it opened a skipped region)
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK and not self._skip:
            self._flush()
        if tag in _VOID:
            if tag == "br":
                self._buf.append(" ")
            return
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        # LibreOffice hides every per-application variant (class MAC, WRITER…) and shows the one
        # without a class by default, so a hidden element is dropped only when it has a class
        variant = "hidden" in a and bool(classes)
        skip = tag in self.rules.skip_tags or variant or bool(classes & self.rules.skip_classes)
        code = tag in self.rules.code_tags or bool(classes & self.rules.code_classes)
        # a dropped inline element leaves a hole in its sentence ("the current ."): mark it
        hole = code or (skip and not variant and tag not in _BLOCK and tag not in self.rules.skip_tags)
        if hole and not self._skip:
            self._buf.append(CODE_MARK)
        opens = skip or code
        self._skip += opens
        self._stack.append((tag, opens))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK and not self._skip:  # OSIS milestones such as <div sID=".." type="x-p"/>
            self._flush()
        elif tag == "br":  # XHTML "<br/>" separates words just as "<br>" does
            self._buf.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if not any(t == tag for t, _ in self._stack):
            return
        while self._stack:
            t, opens = self._stack.pop()
            self._skip -= opens
            if t == tag:
                break
        if tag in _BLOCK and not self._skip:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._buf.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self._buf).split())
        if text:
            self.out.append(text)
        self._buf.clear()

    def finish(self) -> list[str]:
        """Closes the parser and returns the collected paragraphs."""
        self.close()
        self._flush()
        return self.out


def markup_paragraphs(text: str, rules: MarkupRules | None = None) -> list[str]:
    """Paragraph texts of an HTML or OSIS fragment."""
    parser = _Paragraphs(rules or MarkupRules())
    parser.feed(text)
    return parser.finish()


def read_text(path: Path) -> str:
    """A text file as str: UTF-8, falling back to Latin-1 for old fortune files; .gz is unpacked."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# Fortune attribution lines ("-- Mark Twain", "— Goethe") are not part of the quote.
_ATTRIBUTION = re.compile(r"^\s*(--|—|–|~)\s*\S")


def fortune_paragraphs(path: Path) -> Iterator[str]:
    """One paragraph per fortune cookie (entries separated by ``%`` lines), attributions removed."""
    for entry in re.split(r"(?m)^%\s*$", read_text(path)):
        lines = [ln for ln in entry.splitlines() if not _ATTRIBUTION.match(ln)]
        # an indented or dialogue-style layout is kept as one paragraph; the filter drops what fails
        text = " ".join(ln.strip() for ln in lines if ln.strip())
        if text:
            yield text


def html_paragraphs(path: Path, rules: MarkupRules | None = None) -> list[str]:
    """Paragraphs of one HTML file."""
    return markup_paragraphs(read_text(path), rules)


def sword_paragraphs(module_dir: Path) -> Iterator[str]:
    """Paragraphs of a SWORD ``zText`` Bible module (OSIS markup in zlib blocks), one per book.

    ``*.bzs`` records are (offset, size, unpacked size) of blocks in ``*.bzz``; ``*.bzv`` records are
    (block, offset, size) of each verse inside its unpacked block. Verses are joined with a space
    because the module stores them back to back ("house.”He could…").
    """
    osis = MarkupRules(skip_tags=MarkupRules().skip_tags | {"milestone", "reference"})
    for testament in ("ot", "nt"):
        bzs, bzv = module_dir / f"{testament}.bzs", module_dir / f"{testament}.bzv"
        if not bzs.exists():
            continue
        blocks = _sword_blocks(bzs.read_bytes(), (module_dir / f"{testament}.bzz").read_bytes())
        verses: dict[int, list[bytes]] = {}
        vidx = bzv.read_bytes()
        for i in range(len(vidx) // 10):
            block, off, size = struct.unpack_from("<IIH", vidx, 10 * i)
            if size and block < len(blocks):
                verses.setdefault(block, []).append(blocks[block][off : off + size])
        for block in sorted(verses):
            text = b" ".join(verses[block]).decode("utf-8", "replace")
            # <w lemma=…> wraps every word; removing it first makes the markup parser ~5x faster
            yield from markup_paragraphs(_OSIS_WORD.sub("", text), osis)


_OSIS_WORD = re.compile(r"</?w\b[^>]*>")


def _sword_blocks(index: bytes, data: bytes) -> list[bytes]:
    out = []
    for i in range(len(index) // 12):
        off, size, _ = struct.unpack_from("<3I", index, 12 * i)
        out.append(zlib.decompress(data[off : off + size]) if size else b"")
    return out


_WN_QUOTE = re.compile(r'"([^"]+)"')
# Many WordNet examples are phrases ("a perforation of the eardrum", "based on solid facts"); an
# example is taken as a sentence only if it has a subject pronoun or an auxiliary verb.
_CLAUSE_WORDS = frozenset(
    "i you he she we they it is was are were be been has had have will would can could did does do "
    "should must may might shall isn't wasn't don't didn't won't can't".split()
)


def wordnet_paragraphs(dict_dir: Path) -> Iterator[str]:
    """Example sentences of WordNet glosses, capitalised and given a full stop."""
    for pos in ("noun", "verb", "adj", "adv"):
        for line in read_text(dict_dir / f"data.{pos}").splitlines():
            if line.startswith(" ") or "|" not in line:
                continue
            for ex in _WN_QUOTE.findall(line.split("|", 1)[1]):
                ex = ex.strip()
                if not ex or not _CLAUSE_WORDS & set(ex.lower().split()):
                    continue
                yield ex[0].upper() + ex[1:] + ("" if ex[-1] in ".!?" else ".")


def parse_mo(data: bytes) -> dict[str, str]:
    """Message catalogue of a GNU gettext ``.mo`` file: original → translation (first plural form).

    Context prefixes (``ctxt\\x04msgid``) are kept in the key; the header entry (empty msgid) is dropped.
    """
    if len(data) < 20:
        raise ValueError("not a .mo file (too short)")
    magic = struct.unpack_from("<I", data)[0]
    order = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if order is None:
        raise ValueError("not a .mo file (bad magic number)")
    _, count, orig_at, trans_at = struct.unpack_from(f"{order}4I", data, 4)
    out: dict[str, str] = {}
    for i in range(count):
        olen, ooff = struct.unpack_from(f"{order}2I", data, orig_at + 8 * i)
        tlen, toff = struct.unpack_from(f"{order}2I", data, trans_at + 8 * i)
        key = data[ooff : ooff + olen].decode("utf-8", "replace")
        if key:
            out[key] = data[toff : toff + tlen].decode("utf-8", "replace").split("\x00", 1)[0]
    return out


def mo_paragraphs(path: Path) -> Iterator[str]:
    """Translated strings of a ``.mo`` file (UI labels and messages)."""
    for msg in parse_mo(path.read_bytes()).values():
        yield msg.replace("~", "")  # "~" marks menu accelerators in LibreOffice strings


_FTL_VALUE = re.compile(r"^\s*(?:[\w-]+|\.[\w-]+)\s*=\s*(.*)$")


def fluent_values(text: str) -> Iterator[str]:
    """Values of a Fluent (``.ftl``) file, continuation lines joined; placeables stay for the filter."""
    current: list[str] = []
    for line in text.splitlines():
        m = _FTL_VALUE.match(line)
        if m or not line.strip() or line.lstrip().startswith("#") or not line[:1].isspace():
            if current:
                yield " ".join(current)
            current = [m.group(1).strip()] if m and m.group(1).strip() else []
        else:
            current.append(line.strip())
    if current:
        yield " ".join(current)


def xpi_paragraphs(path: Path) -> Iterator[str]:
    """Strings of a Mozilla language pack: Fluent values and ``.properties`` values."""
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            if name.endswith(".ftl"):
                yield from fluent_values(zf.read(name).decode("utf-8", "replace"))
            elif name.endswith(".properties"):
                for line in zf.read(name).decode("utf-8", "replace").splitlines():
                    if "=" in line and not line.lstrip().startswith(("#", "!")):
                        yield line.split("=", 1)[1].strip()


_TEXT_MACROS = re.compile(r"^[.'](B|I|BI|IB|BR|RB|IR|RI|SM|SB|UR|MT|SY|OP|CW)\b")
_NOFILL_START = re.compile(r"^[.'](nf|EX)\b")
_NOFILL_END = re.compile(r"^[.'](fi|EE)\b")
_FONT_SPAN = re.compile(r"\\f[BICW(][^\\]*?\\f[RP]|\\f\[(?:B|I|CW)\].*?\\f\[\]?")
_ESCAPES = [
    (re.compile(r"\\\*?\(\w\w|\\\*\[[^\]]*\]|\\\[[^\]]*\]"), CODE_MARK),
    (re.compile(r"\\[&|^:]"), ""),
    (re.compile(r"\\-"), "-"),
    (re.compile(r"\\[ ~0]"), " "),
    (re.compile(r"\\e"), CODE_MARK),
    (re.compile(r"\\f[RP]|\\f\[\]"), ""),
    (re.compile(r"\\c$"), ""),
]


def man_paragraphs(path: Path) -> Iterator[str]:
    """Running text of a troff man page: macro lines end paragraphs, bold/italic spans count as code.

    Font macros (``.B ls``) carry command names in the middle of sentences; they become CODE_MARK so the
    sentence is dropped instead of being read with a missing word.
    """
    buf: list[str] = []
    nofill = False
    for line in read_text(path).splitlines():
        if _NOFILL_START.match(line):
            nofill = True
        elif _NOFILL_END.match(line):
            nofill = False
        if nofill or line.startswith(('.\\"', "'\\\"")):
            continue
        if _TEXT_MACROS.match(line):
            buf.append(CODE_MARK)
        elif line.startswith((".", "'")) or not line.strip():
            if buf:
                yield " ".join(buf)
            buf = []
        else:
            buf.append(_man_inline(line))
    if buf:
        yield " ".join(buf)


def _man_inline(line: str) -> str:
    line = _FONT_SPAN.sub(CODE_MARK, line)
    for pattern, repl in _ESCAPES:
        line = pattern.sub(repl, line)
    return CODE_MARK if "\\" in line else line


def dict_phrases(path: Path, side: int = 0) -> Iterator[str]:
    """Phrases of a ding dictionary (``de :: en`` lines, ``|`` and ``;`` separate variants)."""
    for line in read_text(path).splitlines():
        if line.startswith("#") or "::" not in line:
            continue
        for part in re.split(r"[|;]", line.split("::", 1)[side]):
            # {f} {pl} [ugs.] grammar notes are not read aloud
            part = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", part).strip()
            if part:
                yield part


def iter_files(root: Path, patterns: Iterable[str], exclude: Iterable[str] = ()) -> list[Path]:
    """Regular files under ``root`` matching any glob pattern and no exclusion, sorted for determinism."""
    excl = tuple(exclude)
    found = {p for pat in patterns for p in root.glob(pat) if p.is_file() and not p.is_symlink()}
    return sorted(p for p in found if not any(p.match(e) or e in p.as_posix() for e in excl))
