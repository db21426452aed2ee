"""RHVoice through ``RHVoice-test``: English HTS voices trained on CMU ARCTIC speakers, 24 kHz.

Voices: slt (female), clb (female), bdl (male) and alan (Scottish male). slt, clb and bdl are CMU
ARCTIC speaker names; "alan" is, to our knowledge, RHVoice's voice from the ARCTIC "awb" recordings
(Alan W Black) - nothing installed here says so, so it shares flite awb's speaker group, which is
the safe side for held-out splits. evgeniy-eng and lyubov come with rhvoice-english too but are
CC-BY-NC-ND-4.0 (non-commercial, /usr/share/doc/rhvoice-english/copyright): not offered (§9).

One process per utterance (≈ 0.3 s each, mostly start-up: the corpus builder gives RHVoice a low
weight). Measured here on slt: ``-r`` is the rate in percent (50 → 2.0× the duration, 125 → 0.80×)
and ``-t`` the pitch in percent as an F0 factor (84 → ×0.84, 141 → ×1.41; below 50 it clamps), so
r = 100·rate and t = 100·2^(st/12). The output is 24 kHz whatever ``-R`` asks; we read the rate
from the WAV header. No phone timings (RHVoice-test has no option for them). Pitch range and word
gap are ignored.
"""

from __future__ import annotations

from pathlib import Path

from flowtts.data.engines._cli import CommandLineEngine, failed, nothing_to_say
from flowtts.data.engines.base import Prosody, RenderResult, VoiceSpec

SAMPLE_RATE = 24_000
VOICE_DIR = "/usr/share/RHVoice/voices"
LICENSE = "LGPL-2.1-or-later (RHVoice voices; trained on CMU ARCTIC)"
#: RHVoice voice → (speaker group, gender)
VOICES = {
    "slt": ("arctic-slt", "female"),
    "clb": ("arctic-clb", "female"),
    "bdl": ("arctic-bdl", "male"),
    "alan": ("arctic-awb", "male"),
}


class RHVoiceEngine(CommandLineEngine):
    """One ``RHVoice-test`` call per utterance."""

    name = "rhvoice"
    requires = ("RHVoice-test",)

    @classmethod
    def voices(cls) -> list[VoiceSpec]:
        return [
            cls.recorded_voice(name, "en", group, gender, LICENSE, {"voice": name})
            for name, (group, gender) in VOICES.items()
        ]

    def available(self, voice: VoiceSpec) -> bool:
        name = voice.params.get("voice", "")
        return name in VOICES and (Path(VOICE_DIR) / name / "voice.info").is_file()

    def render(self, text: str, voice: VoiceSpec, prosody: Prosody) -> RenderResult:
        if nothing_to_say(text):
            return failed("nothing to say (no letter or digit)", SAMPLE_RATE)
        txt, out = self._scratch.file(".txt"), self._scratch.file(".wav")
        rate = max(20, min(300, round(100 * prosody.rate)))
        pitch = max(50, min(200, round(100 * 2 ** (prosody.pitch / 12))))
        cmd = ["RHVoice-test", "-p", voice.params["voice"], "-r", str(rate), "-t", str(pitch)]
        cmd += ["-i", str(txt), "-o", str(out)]
        return self.run_to_result(cmd, out, text, SAMPLE_RATE, text_file=txt)
