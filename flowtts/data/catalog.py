"""The voice catalogue: every voice the corpus builder knows, and which of them this machine has."""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass

from flowtts.data.engines import get_engine_class
from flowtts.data.engines.base import VoiceSpec
from flowtts.errors import MissingSystemVoiceError


@dataclass(frozen=True)
class Catalogue:
    """Voices available here, by language, and the engines that could not be used (with why)."""

    voices: dict[str, list[VoiceSpec]]  # lang -> voices, sorted by id
    skipped_engines: dict[str, str]  # engine -> reason

    def voice(self, voice_id: str) -> VoiceSpec:
        for voices in self.voices.values():
            for v in voices:
                if v.id == voice_id:
                    return v
        raise KeyError(voice_id)


def available_catalogue(langs: tuple[str, ...], engines: tuple[str, ...]) -> Catalogue:
    """Voices of ``langs`` that ``engines`` can render on this machine.

    Raises:
        MissingSystemVoiceError: espeak-ng is missing (every language needs it for phonemes), or a
            requested language has no voice at all.
    """
    if shutil.which("espeak-ng") is None:
        raise MissingSystemVoiceError("espeak-ng is not installed (run scripts/install-system-deps.sh)")
    by_lang: dict[str, list[VoiceSpec]] = defaultdict(list)
    skipped: dict[str, str] = {}
    for name in engines:
        cls = get_engine_class(name)
        try:
            cls.check_installed()
        except MissingSystemVoiceError as e:
            skipped[name] = str(e)
            continue
        engine = cls()
        try:
            for v in cls.voices():
                if v.lang in langs and engine.available(v):
                    by_lang[v.lang].append(v)
        finally:
            engine.close()
    missing = [lang for lang in langs if not by_lang.get(lang)]
    if missing:
        raise MissingSystemVoiceError(
            f"no installed voice for language(s) {', '.join(missing)} "
            "(run scripts/install-system-deps.sh --full)"
        )
    return Catalogue({lang: sorted(by_lang[lang], key=lambda v: v.id) for lang in langs}, skipped)
