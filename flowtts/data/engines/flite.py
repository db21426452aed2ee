"""CMU flite: English voices kal16 (diphone), awb, rms and slt (CMU ARCTIC clustergen), 16 kHz.

One ``flite`` call per utterance, text from a file (so no text can be taken for an option), with
``-psdur``: flite prints every phone with its end time, one line per utterance it split the text
into (times restart on each line), so phone spans cost nothing extra. Phones are converted from
ARPAbet to IPA. The 8 kHz ``kal`` and the limited-domain ``awb_time`` voices are not offered.

Prosody, as measured here: ``duration_stretch`` = default/rate scales every voice's length;
``f0_shift`` = 2^(st/12) moves F0 of kal16, awb and slt (×1.30 gave ×1.31 on slt) but not of rms,
whose F0 model ignores both f0 features (rms renders without pitch shifts). Pitch range and word
gap have no flite control here and are ignored.
"""

from __future__ import annotations

from flowtts.data.engines._cli import (
    CommandLineEngine,
    PhoneEnd,
    arpabet_to_ipa,
    failed,
    nothing_to_say,
    run_tool,
    spans_from_ends,
)
from flowtts.data.engines.base import Prosody, RenderResult, VoiceSpec
from flowtts.data.manifest import PhoneSpan

SAMPLE_RATE = 16_000
LICENSE = "flite/CMU ARCTIC: BSD-style free licence (Carnegie Mellon University)"


#: flite voice → (speaker group, gender, the voice's own default duration_stretch: kal16 ships 1.1 and,
#: measured, setting 1.1 gives byte-identical length to no setting, so rate 1.0 keeps its default tempo)
VOICES = {
    "kal16": ("kal", "male", 1.1),
    "awb": ("arctic-awb", "male", 1.0),
    "rms": ("arctic-rms", "male", 1.0),
    "slt": ("arctic-slt", "female", 1.0),
}


def parse_psdur(stdout: str) -> list[PhoneEnd]:
    """``pau:0.164 hh:0.255 ...`` lines → phones with end times on one running clock."""
    ends: list[PhoneEnd] = []
    offset = 0.0
    for line in stdout.splitlines():
        last = 0.0
        for tok in line.split():
            name, sep, t = tok.rpartition(":")
            try:
                last = float(t)
            except ValueError:
                continue
            if sep:
                ends.append(PhoneEnd(arpabet_to_ipa(name), offset + last))
        offset += last
    return ends


class FliteEngine(CommandLineEngine):
    """flite voices; about 2,000× real time for kal16 and ~80× for the clustergen voices."""

    name = "flite"
    requires = ("flite",)

    def __init__(self) -> None:
        super().__init__()
        self._listed: set[str] | None = None

    @classmethod
    def voices(cls) -> list[VoiceSpec]:
        return [
            cls.recorded_voice(name, "en", group, gender, LICENSE, {"voice": name, "stretch": stretch})
            for name, (group, gender, stretch) in VOICES.items()
        ]

    def available(self, voice: VoiceSpec) -> bool:
        if self._listed is None:  # "Voices available: kal awb_time kal16 awb rms slt"
            run = run_tool(["flite", "-lv"], 10)
            self._listed = set(run.stdout.split(":")[-1].split()) if not run.error else set()
        return voice.params.get("voice") in self._listed

    def render(self, text: str, voice: VoiceSpec, prosody: Prosody) -> RenderResult:
        if nothing_to_say(text):
            return failed("nothing to say (no letter or digit)", SAMPLE_RATE)
        txt, out = self._scratch.file(".txt"), self._scratch.file(".wav")
        stretch = voice.params.get("stretch", 1.0) / max(prosody.rate, 0.05)
        cmd = ["flite", "-voice", voice.params["voice"], "-psdur"]
        cmd += ["--setf", f"duration_stretch={stretch:.4f}"]
        if prosody.pitch:
            cmd += ["--setf", f"f0_shift={2 ** (prosody.pitch / 12):.4f}"]
        cmd += ["-f", str(txt), "-o", str(out)]
        return self.run_to_result(cmd, out, text, SAMPLE_RATE, text_file=txt)

    def phones_from(self, stdout: str, duration: float) -> list[PhoneSpan] | None:
        return spans_from_ends(parse_psdur(stdout), duration)
