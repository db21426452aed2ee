"""The fixed numbers of the design (../shared/DESIGN.md): one place to read them."""

SAMPLE_RATE = 24_000  # Hz, mono, float32 in [-1, 1] inside the engine
FRAME_SAMPLES = 1_920  # 80 ms per frame
FRAME_RATE = SAMPLE_RATE / FRAME_SAMPLES  # 12.5 frames per second
HOP_SAMPLES = 240  # Vocos hop: 100 Hz, 8 hops per frame

# Languages the text frontend and the corpus builder support (ISO 639-1).
LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "ar", "hi")
