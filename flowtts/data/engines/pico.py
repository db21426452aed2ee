"""SVOX Pico through ``pico2wave``: six recorded female voices (en-US, en-GB, de, es, fr, it), 16 kHz.

Prosody goes through Pico's own markup around the (XML-escaped) text:
``<speed level="S"><pitch level="P">text</pitch></speed>``. Measured here on en-GB: the pitch level is
a plain F0 factor in percent (70 → ×0.69, 119 → ×1.18, 141 → ×1.38), so P = 100·2^(st/12). The speed
level shortens speech but not quite in proportion (pauses barely scale): over six real
sentences each in en-US, de-DE and fr-FR the duration went as (100/level)^0.83–0.92 for levels
70–150, so S = 100·rate^1.15 makes the utterance last about 1/rate. Pitch range and word gap have
no Pico control and are ignored. Pico gives no phone timings.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from flowtts.data.engines._cli import CommandLineEngine, failed, nothing_to_say
from flowtts.data.engines.base import Prosody, RenderResult, VoiceSpec

SAMPLE_RATE = 16_000
LANG_DIR = "/usr/share/pico/lang"
LICENSE = "non-free: SVOX Pico lingware, redistributable, 'claims Apache-2.0, source not included'"
#: pico language code → (corpus language, file stem of its speaker data in LANG_DIR)
VOICES = {
    "en-US": ("en", "en-US_lh0_sg"),
    "en-GB": ("en", "en-GB_kh0_sg"),
    "de-DE": ("de", "de-DE_gl0_sg"),
    "es-ES": ("es", "es-ES_zl0_sg"),
    "fr-FR": ("fr", "fr-FR_nk0_sg"),
    "it-IT": ("it", "it-IT_cm0_sg"),
}
SPEED_EXPONENT = 1.15


def markup(text: str, prosody: Prosody) -> str:
    """Pico markup for one render; the text is XML-escaped so '<' or '&' are spoken, not parsed."""
    speed = max(20, min(500, round(100 * prosody.rate**SPEED_EXPONENT)))
    pitch = max(50, min(200, round(100 * 2 ** (prosody.pitch / 12))))
    return f"<speed level='{speed}'><pitch level='{pitch}'>{escape(text)}</pitch></speed>"


class PicoEngine(CommandLineEngine):
    """One ``pico2wave`` call per utterance (about 40 ms of start-up, then ~200× real time)."""

    name = "pico"
    requires = ("pico2wave",)

    @classmethod
    def voices(cls) -> list[VoiceSpec]:
        return [
            cls.recorded_voice(code, lang, f"pico-{code}", "female", LICENSE, {"lang": code})
            for code, (lang, _) in VOICES.items()
        ]

    def available(self, voice: VoiceSpec) -> bool:
        code = voice.params.get("lang", "")
        return code in VOICES and (Path(LANG_DIR) / f"{VOICES[code][1]}.bin").is_file()

    def render(self, text: str, voice: VoiceSpec, prosody: Prosody) -> RenderResult:
        if nothing_to_say(text):
            return failed("nothing to say (no letter or digit)", SAMPLE_RATE)
        out = self._scratch.file(".wav")
        cmd = ["pico2wave", "-l", voice.params["lang"], "-w", str(out), "--", markup(text, prosody)]
        return self.run_to_result(cmd, out, text, SAMPLE_RATE)
