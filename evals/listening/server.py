"""The listening pages and their JSON API, served from a built test folder.

    app = create_listening_app("listening/v1")          # or: flowtts eval mushra serve listening/v1
    uvicorn.run(app, host="0.0.0.0", port=8765)

``GET /`` is the MUSHRA page or the A/B page (static HTML + JS in ``static/``, no external files), which
talks to:

    POST /api/listeners                          {"listener": id or null} -> join or resume (cookie too)
    GET  /api/listeners/{id}                     progress: training done, answered, total, next screen
    GET  /api/listeners/{id}/training            the training page's items (heard, not rated)
    POST /api/listeners/{id}/training            training finished
    GET  /api/listeners/{id}/screens/{k}         screen k: text, open reference, stimuli (opaque ids)
    POST /api/listeners/{id}/screens/{k}         MUSHRA {"ratings": {stimulus id: 0–100}} | A/B {"choice": …}
    GET  /audio/{16 hex}.wav                     a stimulus (the name never says which condition it is)

Every POST is validated (unknown listener, screen or stimulus, a score outside 0–100, no score at 100, a
tie where none is offered, answers out of order): a 4xx with ``{"error": {"message": …}}``, never a 500.
The page only ever sees opaque stimulus ids; which condition an id is stays in ``test.json``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from evals.listening.manifest import AUDIO_DIR, DB_NAME, TOKEN_RE, Manifest, load_manifest
from evals.listening.plan import screens_per_listener
from evals.listening.store import ListeningStore, StoreError, check_listener_id
from flowtts.errors import FlowTTSError

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGES = {"mushra": "mushra.html", "winrate": "ab.html"}
MAX_BODY_BYTES = 64 * 1024  # an answer is a few hundred bytes
COOKIE_MAX_AGE = 90 * 24 * 3600

Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False, strict=True)]


class JoinBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    listener: str | None = Field(default=None, description="resume (or start as) this listener id")


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ratings: dict[str, Score] | None = Field(default=None, description="MUSHRA: stimulus id -> 0–100")
    choice: Literal["a", "b", "tie"] | None = Field(default=None, description="A/B: a, b or tie")


def create_listening_app(test_dir: str | os.PathLike, db_path: str | os.PathLike | None = None) -> FastAPI:
    """The app of the test in ``test_dir``; answers go to ``db_path`` (default ``<test_dir>/results.sqlite``).

    Raises:
        FlowTTSError: not a test folder, a missing stimulus, a database of another build.
    """
    test_dir = Path(test_dir)
    manifest = load_manifest(test_dir)
    store = ListeningStore(Path(db_path) if db_path else test_dir / DB_NAME, manifest)
    audio_dir = test_dir / AUDIO_DIR
    cookie_name = f"flowtts_listener_{manifest.build_id[:8]}"

    app = FastAPI(title=f"listening test {manifest.name}", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.manifest, app.state.store = manifest, store
    _install_errors(app)
    app.add_middleware(_BodyLimit)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", response_class=HTMLResponse)
    def page():
        html = (STATIC_DIR / PAGES[manifest.kind]).read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.get("/audio/{name}")
    def audio(name: str):
        token = name.removesuffix(".wav")
        if not name.endswith(".wav") or not TOKEN_RE.match(token) or not (audio_dir / name).is_file():
            raise StoreError(404, "no such audio file")
        return FileResponse(
            audio_dir / name, media_type="audio/wav", headers={"Cache-Control": "private, max-age=86400"}
        )

    @app.get("/api/test")
    def test_info():
        return {
            "kind": manifest.kind,
            "build_id": manifest.build_id,
            "title": manifest.title,
            "instructions": manifest.instructions,
            "question": manifest.question,
            "tie": manifest.tie,
            "training_items": manifest.training_items,
            "screens": screens_per_listener(manifest),
        }

    @app.post("/api/listeners")
    def join(body: JoinBody, request: Request, response: Response):
        cookie = request.cookies.get(cookie_name)
        if body.listener is not None:
            listener = check_listener_id(body.listener)
        elif cookie and store.exists(cookie):
            listener = cookie
        else:
            listener = secrets.token_urlsafe(9)
        progress = store.join(listener, request.headers.get("user-agent"))
        response.set_cookie(cookie_name, listener, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax")
        return progress.to_dict()

    @app.get("/api/listeners/{listener}")
    def progress(listener: str):
        return store.progress(listener).to_dict()

    @app.get("/api/listeners/{listener}/training")
    def training(listener: str):
        plan = store.plan(listener)
        return {"items": [_stimuli_view(manifest, t.item, t.conditions) for t in plan.training]}

    @app.post("/api/listeners/{listener}/training")
    def training_done(listener: str):
        return store.finish_training(listener).to_dict()

    @app.get("/api/listeners/{listener}/screens/{index}")
    def screen(listener: str, index: int):
        progress = store.progress(listener)
        if not 0 <= index < progress.total:
            raise StoreError(404, f"no screen {index} (this listener has screens 0..{progress.total - 1})")
        if index > progress.answered:
            raise StoreError(409, f"screen {index} is not open yet: screen {progress.answered} comes first")
        s = store.plan(listener).screens[index]
        return {
            "index": index,
            "total": progress.total,
            "answered": index < progress.answered,
            **_stimuli_view(manifest, s.item, s.conditions),
        }

    @app.post("/api/listeners/{listener}/screens/{index}")
    def answer(listener: str, index: int, body: AnswerBody):
        s = store.open_screen(listener, index)  # order and training first: 409 before any 422
        if manifest.kind == "mushra":
            if body.ratings is None or body.choice is not None:
                raise StoreError(422, 'send {"ratings": {stimulus id: score 0–100}} for every stimulus')
            item = manifest.item(s.item)
            by_token = {item.stimulus(c).token: c for c in s.conditions}
            unknown = [t for t in body.ratings if t not in by_token]
            if unknown:
                raise StoreError(422, f"unknown stimulus {unknown[0]!r} on screen {index}")
            scores = {by_token[t]: v for t, v in body.ratings.items()}
            result = store.answer_mushra(listener, index, scores)
        else:
            if body.choice is None or body.ratings is not None:
                raise StoreError(
                    422, 'send {"choice": "a" | "b"' + (' | "tie"' if manifest.tie else "") + "}"
                )
            result = store.answer_pair(listener, index, body.choice)
        return {"stored": True, "duplicate": result.duplicate, **result.progress.to_dict()}

    return app


def _stimuli_view(manifest: Manifest, item_id: str, conditions: tuple[str, ...]) -> dict:
    """What the page may know of an item: text, language, the open reference and the stimuli in the
    listener's order, each only as an opaque id and its URL."""
    item = manifest.item(item_id)

    def view(token: str) -> dict:
        return {"id": token, "url": f"/audio/{token}.wav"}

    return {
        "text": item.text,
        "language": item.language,
        "reference": view(item.reference.token) if item.reference else None,
        "stimuli": [view(item.stimulus(c).token) for c in conditions],
    }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "status": status}}, status_code=status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError):
        return _error(exc.status, exc.message)

    @app.exception_handler(FlowTTSError)
    async def flowtts_error(request: Request, exc: FlowTTSError):
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if not errors:
            return _error(422, "invalid request")
        e = errors[0]
        loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "path", "query"))
        if e.get("type") == "json_invalid":
            return _error(422, "the body is not valid JSON")
        return _error(422, f"{loc + ': ' if loc else ''}{e.get('msg', 'invalid value')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail))


class _BodyLimit:
    """Refuses bodies over ``MAX_BODY_BYTES`` (413) before they are read: by Content-Length, and by
    counting when the body is chunked."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return await _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY_BYTES:
                    raise StoreError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
            return message

        return await self.app(scope, limited_receive, send)
