"""Signal processing on the engine's audio (float32 mono at 24 kHz): streaming time-scale modification."""

from flowtts.dsp.time_stretch import TimeStretch

__all__ = ["TimeStretch"]
