"""The streaming service: OpenAI-shaped REST, text-in/audio-out WebSocket, voice library.
Holds no model code: it calls flowtts.

How it runs (``flowtts serve`` -> ``serve.cli`` -> ``serve.app.create_app``):

- the event loop (uvicorn, one thread) parses requests, checks them, and turns model audio into the wire
  format per stream (``audio_out``: speed -> sample rate -> encoder) and onto the socket;
- one model worker thread (``scheduler``) owns the model and advances every active stream by one frame per
  step, all streams in one batch (continuous batching); it is the only code that touches the model;
- between them, one ``streams.SpeechStream`` per REST request or WebSocket turn: text units and cancels go
  in (under a lock, waking the worker), audio chunks and events come out (an asyncio queue fed with
  ``call_soon_threadsafe``); how much audio waits there is what pauses a slow reader;
- voice uploads are encoded by the codec in a thread of their own, one at a time.

Modules: ``app`` (the FastAPI app and its lifespan), ``settings``, ``service`` (what handlers share),
``routes/`` (speech, voices, realtime, system), ``realtime`` (the WebSocket protocol), ``scheduler``,
``streams``, ``voice_store``, ``audio_out`` / ``encoders`` / ``resample`` / ``g711`` (the audio edge),
``timings`` (word timings), ``http_stream`` (streamed responses), ``middleware``, ``auth``, ``errors``,
``logs``, ``metrics``, ``schemas``, ``deps``, ``cli``; the demo page is ``static/demo.html``.
"""
