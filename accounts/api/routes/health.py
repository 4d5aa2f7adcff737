"""Liveness, metrics and the problem types (no key needed)."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from accounts.api._problems import PROBLEM_TYPES, Problem

router = APIRouter(tags=["service"])


class Health(BaseModel):
    status: str
    pid: int = Field(description="the worker process that answered")


@router.get("/healthz", response_model=Health, summary="the process answers")
async def healthz() -> Response:
    return Response(b'{"status":"ok","pid":%d}' % os.getpid(), media_type="application/json")


@router.get("/metrics", summary="Prometheus metrics of this worker", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


class ProblemType(BaseModel):
    type: str
    title: str
    description: str


problems = APIRouter(tags=["service"])


@problems.get("/problems/{slug}", response_model=ProblemType, summary="what a problem type means")
async def problem_type(slug: Annotated[str, Path(max_length=40)]) -> ProblemType:
    if slug not in PROBLEM_TYPES:
        raise Problem(404, f"no problem type {slug}")
    title, description = PROBLEM_TYPES[slug]
    return ProblemType(type=f"/v1/problems/{slug}", title=title, description=description)
