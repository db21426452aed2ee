"""``GET /health`` (liveness and load, for a load balancer), ``GET /metrics`` (Prometheus) and the demo
page at ``/``. None of them needs an API key."""

from __future__ import annotations

import time
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse

from serve.deps import ServiceDep
from serve.schemas import Health

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health, summary="Liveness and load")
async def health(service: ServiceDep):
    alive = service.scheduler.alive
    return {
        "status": "ok" if alive else "degraded",
        "model": service.model_name,
        "sample_rate": 24000,
        "streams_active": int(service.metrics.value("flowtts_streams_active")),
        "slots_in_use": service.scheduler.slots_in_use,
        "max_streams": service.settings.max_streams,
        "worker_alive": alive,
        "uptime_s": round(time.monotonic() - service.started_at, 1),
        "auth": service.keys.required,
    }


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(service: ServiceDep):
    return PlainTextResponse(service.metrics.render(), media_type="text/plain; version=0.0.4")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def demo_page():
    return HTMLResponse(files("serve").joinpath("static/demo.html").read_text(encoding="utf-8"))
