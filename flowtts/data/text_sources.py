"""The text side of the offline speech corpus: clean sentences per language from Debian packages.

``build_text_corpus`` downloads the packages of :mod:`flowtts.data.text_catalogue` with
``apt-get download`` (never installing them), unpacks them with ``dpkg-deb -x`` into a scratch folder,
runs the readers of :mod:`flowtts.data.text_extract` and the filters of :mod:`flowtts.data.text_filter`,
and writes ``<cache>/<lang>.jsonl`` (one :class:`Sentence` per line) plus a ``<lang>.meta.json`` sidecar
whose version decides whether a language must be rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from flowtts.atomic import ensure_writable_dirs, write_text_atomic
from flowtts.cache import cache_home
from flowtts.constants import LANGUAGES
from flowtts.data.text_filter import Blocklist, LanguageCheck, SentenceFilter, Wordlist, dedup_key
from flowtts.errors import FlowTTSError

# Bump when a reader, filter rule or the catalogue changes: built languages are then rebuilt.
TEXT_CORPUS_VERSION = 3
BLOCKLIST_DIR = Path(__file__).parent / "resources" / "blocklist"


@dataclass(frozen=True)
class Sentence:
    """One sentence to render, with where it came from and under which licence."""

    text: str
    lang: str
    source: str  # "<package>:<absolute path in the package>", e.g. "fortunes-de:/usr/share/games/..."
    license: str


def default_cache_dir() -> Path:
    """``$FLOWTTS_CACHE/text``, or ``~/.cache/flowtts/text``."""
    return cache_home() / "text"


def check_langs(langs: list[str]) -> list[str]:
    """The languages, de-duplicated in order; an unsupported one is a one-line error."""
    bad = [lang for lang in langs if lang not in LANGUAGES]
    if bad:
        raise FlowTTSError(f"unsupported text language {', '.join(bad)} (supported: {', '.join(LANGUAGES)})")
    if not langs:
        raise FlowTTSError("no text language given")
    return list(dict.fromkeys(langs))


def _paths(cache_dir: Path, lang: str) -> tuple[Path, Path]:
    return cache_dir / f"{lang}.jsonl", cache_dir / f"{lang}.meta.json"


def _stamp(lang: str) -> dict[str, object]:
    """What a built language must match to be reused: code version and blocklist contents."""
    block = BLOCKLIST_DIR / f"{lang}.txt"
    digest = hashlib.sha256(block.read_bytes()).hexdigest()[:16] if block.exists() else "none"
    return {"version": TEXT_CORPUS_VERSION, "blocklist": digest}


def read_meta(lang: str, cache_dir: Path) -> dict | None:
    """The sidecar of a language built with the current code, else None."""
    data, meta = _paths(cache_dir, lang)
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    stamp = _stamp(lang)
    if not data.exists() or any(info.get(k) != v for k, v in stamp.items()):
        return None
    return info


def load_sentences(lang: str, cache_dir: Path) -> list[Sentence]:
    """The built sentences of ``lang``; a FlowTTSError if it is unsupported or not built yet."""
    check_langs([lang])
    data, _ = _paths(cache_dir, lang)
    if not data.exists():
        raise FlowTTSError(f"no {lang} text in {cache_dir}: run `flowtts data texts --langs {lang}` first")
    try:
        with data.open(encoding="utf-8") as f:
            return [Sentence(**json.loads(line)) for line in f if line.strip()]
    except (OSError, ValueError, TypeError) as e:
        raise FlowTTSError(f"cannot read {data} ({e}); delete it and rebuild the text corpus") from e


def write_sentences(lang: str, cache_dir: Path, sentences: list[Sentence], seconds: float) -> dict:
    """Writes the sorted sentences and then the sidecar (so a crash never leaves a stale 'built')."""
    data, meta = _paths(cache_dir, lang)
    rows = sorted(sentences, key=lambda s: (s.source, s.text))
    write_text_atomic(data, "".join(json.dumps(asdict(s), ensure_ascii=False) + "\n" for s in rows))
    per_pkg = Counter(s.source.split(":", 1)[0] for s in rows)
    info = {
        **_stamp(lang),
        "lang": lang,
        "count": len(rows),
        "sources": dict(sorted(per_pkg.items())),
        "licenses": dict(sorted({s.source.split(":", 1)[0]: s.license for s in rows}.items())),
        "seconds": round(seconds, 1),
    }
    write_text_atomic(meta, json.dumps(info, ensure_ascii=False, indent=1) + "\n")
    return info


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(f"[texts] {msg}", file=sys.stderr, flush=True)


def build_text_corpus(langs: list[str], cache_dir: Path, progress: bool = True) -> dict[str, int]:
    """Builds (or reuses) ``<cache_dir>/<lang>.jsonl`` for each language; returns sentence counts.

    Languages whose sidecar matches the current code and blocklist are skipped, so a second call is
    cheap. Downloaded ``.deb`` files are kept in ``<cache_dir>/debs`` for rebuilds; unpacked trees live
    in a scratch folder that is removed at the end.
    """
    langs = check_langs(langs)
    cache_dir = Path(cache_dir)
    counts: dict[str, int] = {}
    todo = []
    for lang in langs:
        info = read_meta(lang, cache_dir)
        if info is None:
            todo.append(lang)
        else:
            counts[lang] = int(info["count"])
            _log(progress, f"{lang}: {counts[lang]} sentences already built")
    if not todo:
        return counts
    ensure_writable_dirs([cache_dir], f"text cache {cache_dir}")
    with PackageStore(cache_dir, progress) as store:
        store.fetch(sorted({p for lang in todo for p in packages_for(lang)}))
        for lang in todo:
            t0 = time.monotonic()
            sentences = build_language(lang, store, progress)
            info = write_sentences(lang, cache_dir, sentences, time.monotonic() - t0)
            counts[lang] = info["count"]
            _log(progress, f"{lang}: {info['count']} sentences in {info['seconds']} s {info['sources']}")
    return {lang: counts[lang] for lang in langs}


def require_tool(name: str) -> str:
    """Path of a system tool, or a clear error naming the Debian package that has it."""
    path = shutil.which(name)
    if path is None:
        pkg = {"apt-get": "apt", "dpkg-deb": "dpkg"}.get(name, name)
        raise FlowTTSError(f"`{name}` not found: the text corpus needs Debian's {pkg} (run on Debian/Ubuntu)")
    return path


def apt_config() -> Path | None:
    """The private APT configuration (adds contrib/non-free) if scripts/install-system-deps.sh made one.

    All text packages are in ``main``, so without it the system's own sources work just as well.
    """
    conf = Path(os.environ.get("FLOWTTS_APT_DIR") or cache_home() / "apt") / "apt.conf"
    return conf if conf.exists() else None


def packages_for(lang: str) -> list[str]:
    """Every package a language's build reads: its sources and the word lists of its language check."""
    from flowtts.data.text_catalogue import WORDLISTS, sources_for

    pkgs = [s.package for s in sources_for(lang)]
    if lang in WORDLISTS:  # Latin scripts also need the English list to beat
        pkgs += [p for code in dict.fromkeys((lang, "en")) for p, _ in WORDLISTS[code]]
    return list(dict.fromkeys(pkgs))


class PackageStore:
    """Downloaded ``.deb`` files (kept in ``<cache>/debs``) and their unpacked trees (scratch, removed)."""

    def __init__(self, cache_dir: Path, progress: bool) -> None:
        self.debs = cache_dir / "debs"
        self.progress = progress
        self._scratch: Path | None = None
        self._roots: dict[str, Path] = {}
        self._cache_dir = cache_dir

    def __enter__(self) -> PackageStore:
        self.debs.mkdir(parents=True, exist_ok=True)
        self._scratch = Path(tempfile.mkdtemp(prefix=".unpacked-", dir=self._cache_dir))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def deb(self, package: str) -> Path | None:
        """The downloaded .deb of a package, if present."""
        found = sorted(self.debs.glob(f"{package}_*.deb"))
        return found[-1] if found else None

    def fetch(self, packages: list[str]) -> None:
        """Downloads the packages not in ``debs`` yet, in one apt-get call."""
        missing = [p for p in packages if self.deb(p) is None]
        if not missing:
            return
        _log(self.progress, f"downloading {len(missing)} packages: {' '.join(missing)}")
        res = self._apt(["download", *missing])
        if res.returncode != 0 and "Unable to locate package" in res.stderr:
            self._apt(["update"])  # package lists of the private config were never fetched
            res = self._apt(["download", *missing])
        if res.returncode != 0:
            lines = [ln for ln in res.stderr.splitlines() if ln.startswith("E:")] or res.stderr.splitlines()
            first = (lines or ["no output"])[0].strip()
            raise FlowTTSError(f"apt-get download failed: {first} (is the Debian mirror reachable?)")

    def _apt(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        conf = apt_config()
        if conf is not None:
            env["APT_CONFIG"] = str(conf)
        # running as root, apt would otherwise warn that _apt cannot write into the cache folder
        cmd = [require_tool("apt-get"), "-q", "-o", "APT::Sandbox::User=root", *args]
        return subprocess.run(cmd, cwd=self.debs, env=env, capture_output=True, text=True)

    def root(self, package: str) -> Path:
        """The unpacked tree of a downloaded package (unpacked on first use)."""
        if package not in self._roots:
            deb = self.deb(package)
            if deb is None or self._scratch is None:
                raise FlowTTSError(f"package {package} was not downloaded")
            dest = self._scratch / package
            res = subprocess.run(
                [require_tool("dpkg-deb"), "-x", str(deb), str(dest)], capture_output=True, text=True
            )
            if res.returncode != 0:
                raise FlowTTSError(f"dpkg-deb could not unpack {deb.name}: {res.stderr.strip()[:200]}")
            self._roots[package] = dest
        return self._roots[package]


def build_language(lang: str, store: PackageStore, progress: bool) -> list[Sentence]:
    """All accepted, deduplicated sentences of one language, in catalogue order."""
    from flowtts.data.text_catalogue import READERS, sources_for

    filt = make_filter(lang, store)
    seen: set[str] = set()
    out: list[Sentence] = []
    for src in sources_for(lang):
        root, before = store.root(src.package), len(out)
        for path in src.files(root):
            name = f"{src.package}:/{path.relative_to(root).as_posix()}"
            for text in filt.sentences(READERS[src.kind](path)):
                key = dedup_key(text)
                if key not in seen:
                    seen.add(key)
                    out.append(Sentence(text, lang, name, src.license))
        _log(progress, f"{lang}: {src.package}: {len(out) - before} sentences")
    return out


def make_filter(lang: str, store: PackageStore) -> SentenceFilter:
    """The sentence filter of ``lang``: word lists from the store, blocklist from the package data."""
    from flowtts.data.text_catalogue import WORDLISTS

    def wordlist(code: str) -> Wordlist:
        lines: list[str] = []
        for pkg, name in WORDLISTS[code]:
            lines += (store.root(pkg) / "usr/share/dict" / name).read_text(encoding="utf-8").splitlines()
        return Wordlist.from_lines(code, lines)

    if lang in WORDLISTS:
        check = LanguageCheck(lang, wordlist(lang), None if lang == "en" else wordlist("en"))
    else:
        check = LanguageCheck(lang)
    block = BLOCKLIST_DIR / f"{lang}.txt"
    return SentenceFilter(lang, check, Blocklist.from_file(block) if block.exists() else Blocklist())
