"""Offline synthesis engines of the corpus builder, by name.

Modules load lazily (``get_engine_class``) so that listing engines costs nothing and a missing
system package only matters for the engines a run actually uses.
"""

from __future__ import annotations

import importlib

from flowtts.data.engines.base import Engine, Prosody, RenderResult, VoiceSpec

ENGINES: dict[str, str] = {
    "espeak": "flowtts.data.engines.espeak:EspeakEngine",
    "mbrola": "flowtts.data.engines.mbrola:MbrolaEngine",
    "pico": "flowtts.data.engines.pico:PicoEngine",
    "flite": "flowtts.data.engines.flite:FliteEngine",
    "rhvoice": "flowtts.data.engines.rhvoice:RHVoiceEngine",
    "festival": "flowtts.data.engines.festival:FestivalEngine",
}


def get_engine_class(name: str) -> type[Engine]:
    module, _, cls = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["ENGINES", "Engine", "Prosody", "RenderResult", "VoiceSpec", "get_engine_class"]
