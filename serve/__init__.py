"""The streaming service: OpenAI-shaped REST, text-in/audio-out WebSocket, voice library.
Holds no model code: it calls flowtts."""
