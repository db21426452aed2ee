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
    PhoneEnd,
    ScratchDir,
    arpabet_to_ipa,
    audio_problems,
    failed,
    nothing_to_say,
    read_wav,
    run_tool,
    spans_from_ends,
    timeout_for,
)
from flowtts.data.engines.base import Engine, Prosody, RenderResult, VoiceSpec
from flowtts.data.manifest import PhoneSpan

SAMPLE_RATE = 16_000
LICENSE = "flite/CMU ARCTIC: BSD-style free licence (Carnegie Mellon University)"


def _voice(name: str, group: str, gender: str, stretch: float = 1.0) -> VoiceSpec:
    """``stretch``: the voice's own default duration_stretch (kal16 ships 1.1; measured: setting 1.1
    gives byte-identical length to no setting), so rate 1.0 keeps the voice's default tempo."""
    return VoiceSpec(
        id=f"flite-{name}",
        engine="flite",
        lang="en",
        speaker_group=group,
        gender=gender,
        license=LICENSE,
        kind="recorded",
        params={"voice": name, "stretch": stretch},
    )


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


class FliteEngine(Engine):
    """flite voices; about 2,000× real time for kal16 and ~80× for the clustergen voices."""

    name = "flite"
    requires = ("flite",)

    def __init__(self) -> None:
        self.check_installed()
        self._scratch = ScratchDir("flite")
        self._listed: set[str] | None = None

    @classmethod
    def voices(cls) -> list[VoiceSpec]:
        return [
            _voice("kal16", "kal", "male", 1.1),
            _voice("awb", "arctic-awb", "male"),
            _voice("rms", "arctic-rms", "male"),
            _voice("slt", "arctic-slt", "female"),
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
        try:
            txt.write_text(text + "\n", encoding="utf-8")
            stretch = voice.params.get("stretch", 1.0) / max(prosody.rate, 0.05)
            cmd = ["flite", "-voice", voice.params["voice"], "-psdur"]
            cmd += ["--setf", f"duration_stretch={stretch:.4f}"]
            if prosody.pitch:
                cmd += ["--setf", f"f0_shift={2 ** (prosody.pitch / 12):.4f}"]
            run = run_tool(cmd + ["-f", str(txt), "-o", str(out)], timeout_for(text))
            if run.error:
                return failed(run.error, SAMPLE_RATE)
            wav = read_wav(out)
        finally:
            txt.unlink(missing_ok=True)
            out.unlink(missing_ok=True)
        if isinstance(wav, str):
            return failed(wav, SAMPLE_RATE)
        samples, rate = wav
        problems = audio_problems(samples)
        phones: list[PhoneSpan] | None = None
        if not problems:
            phones = spans_from_ends(parse_psdur(run.stdout), len(samples) / rate)
        return RenderResult(samples, rate, phones=phones, problems=problems)

    def close(self) -> None:
        self._scratch.close()
