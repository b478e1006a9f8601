"""The FastAPI app under test (entry point ``apps.fastapi_app.app:app``).

Written the way FastAPI's docs would; responses are hard-coded on purpose and
nothing from the harness is imported.  Handlers are ``async def``: the ones
without I/O do no blocking work, and the database ones use async drivers, so
nothing blocks the event loop on the database and nothing hops to a
threadpool (``/cpu`` is CPU work on the loop, which is what it measures).

Database (``DATABASE_URL``): SQLite through aiosqlite (each connection is a
sqlite3 connection driven from its own thread) and PostgreSQL through
psycopg 3's async connections, both behind a pool of at most 4 connections
per worker process, opened lazily on the first query (so after fork, on the
worker's own event loop) and closed at lifespan shutdown.  ``/updates`` reads
with autocommit, then writes in one transaction (``BEGIN IMMEDIATE`` on
SQLite, so concurrent writers queue for the lock instead of deadlocking).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import namedtuple
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

Fortune = namedtuple("Fortune", "id message")
ADDITIONAL_FORTUNE = "Additional fortune added at request time."
ECHO_MAX_BYTES = 64 * 1024
STREAM_CHUNK = 16 * 1024
POOL_SIZE = 4


# ---- database: a small pool per worker, opened on first use ------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "")
IS_SQLITE = DATABASE_URL.startswith("sqlite:")
_P = "?" if IS_SQLITE else "%s"
SELECT_WORLD = f"SELECT id, randomnumber FROM world WHERE id = {_P}"
UPDATE_WORLD = f"UPDATE world SET randomnumber = {_P} WHERE id = {_P}"
SELECT_FORTUNES = "SELECT id, message FROM fortune"


class SQLitePool:
    """At most ``size`` aiosqlite connections, handed out one request at a time."""

    def __init__(self, path: str, size: int) -> None:
        self.path, self.size = path, size
        self.idle: asyncio.Queue[Any] = asyncio.Queue()
        self.opened = 0

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        import aiosqlite

        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            try:
                conn = await aiosqlite.connect(self.path, timeout=15, isolation_level=None)
            except BaseException:
                self.opened -= 1
                raise
        else:
            conn = await self.idle.get()
        try:
            yield conn
        finally:
            if conn.in_transaction:  # an error or a cancel mid-transaction
                await conn.rollback()
            self.idle.put_nowait(conn)

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()


_pool: Any = None
_pool_lock = asyncio.Lock()


async def pool() -> Any:
    """This worker's pool, created on first use, inside the worker's event loop."""
    global _pool
    if _pool is None:
        async with _pool_lock:
            if _pool is None:
                if IS_SQLITE:
                    _pool = SQLitePool(DATABASE_URL.split("://", 1)[1][1:], POOL_SIZE)
                elif DATABASE_URL.startswith(("postgresql:", "postgres:")):
                    from psycopg_pool import AsyncConnectionPool

                    pg = AsyncConnectionPool(
                        DATABASE_URL, min_size=1, max_size=POOL_SIZE, open=False, kwargs={"autocommit": True}
                    )
                    await pg.open()
                    _pool = pg
                else:
                    raise RuntimeError("DATABASE_URL must be sqlite:////path or postgresql://...")
    return _pool


async def fetch_world(conn: Any) -> dict[str, int]:
    cursor = await conn.execute(SELECT_WORLD, (random.randint(1, 10000),))
    row = await cursor.fetchone()
    return {"id": row[0], "randomNumber": row[1]}


async def write_worlds(conn: Any, params: list[tuple[int, int]]) -> None:
    if IS_SQLITE:
        await conn.execute("BEGIN IMMEDIATE")
        await conn.executemany(UPDATE_WORLD, params)
        await conn.execute("COMMIT")
    else:
        async with conn.transaction(), conn.cursor() as cur:
            await cur.executemany(UPDATE_WORLD, params)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    if _pool is not None:
        await _pool.close()


# ---- /echo: checks before the body is read, and the contract's error shape ------


class EchoRoute(APIRoute):
    """413 by Content-Length and 415 by Content-Type before FastAPI reads the body."""

    def get_route_handler(self):  # type: ignore[no-untyped-def]
        handler = super().get_route_handler()

        async def checked(request: Request):  # type: ignore[no-untyped-def]
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > ECHO_MAX_BYTES:
                return error(413, "too_large")
            media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/json":
                return error(415, "unsupported_media_type")
            body = b""
            async for chunk in request.stream():  # bounded even without Content-Length
                body += chunk
                if len(body) > ECHO_MAX_BYTES:
                    return error(413, "too_large")
            try:
                body.decode("utf-8")  # else FastAPI answers 400 in its own shape
            except UnicodeDecodeError:
                return error(400, "malformed_json")
            if not body:
                return error(400, "malformed_json")
            request._body = body  # what request.body() returns from now on
            return await handler(request)

        return checked


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    count: Annotated[StrictInt, Field(ge=0, le=1000)]
    tags: Annotated[list[StrictStr], Field(max_length=10)]


def error(status: int, code: str) -> JSONResponse:
    return JSONResponse({"error": code}, status_code=status)


app = FastAPI(lifespan=lifespan)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


@app.exception_handler(RequestValidationError)
async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's default is 422 {"detail": [...]}; the contract wants one shape everywhere.
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return error(400, "malformed_json")
    return error(422, "invalid_body")


def query_param(raw: str | None, lo: int, hi: int) -> int:
    """Missing or non-numeric -> lo, else clamped to lo..hi (so typed as str, not int)."""
    try:
        value = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return lo
    return max(lo, min(hi, value))


# ---- the classic six --------------------------------------------------------


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/json")
async def json() -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.get("/db")
async def single_query() -> dict[str, int]:
    async with (await pool()).connection() as conn:
        return await fetch_world(conn)


@app.get("/queries")
async def multiple_queries(queries: str | None = None) -> list[dict[str, int]]:
    n = query_param(queries, 1, 500)
    async with (await pool()).connection() as conn:
        return [await fetch_world(conn) for _ in range(n)]


@app.get("/fortunes")
async def fortunes(request: Request) -> Any:
    async with (await pool()).connection() as conn:
        cursor = await conn.execute(SELECT_FORTUNES)
        rows = [Fortune(*row) for row in await cursor.fetchall()]
    rows.append(Fortune(0, ADDITIONAL_FORTUNE))
    rows.sort(key=lambda f: f.message)
    return templates.TemplateResponse(request, "fortunes.html", {"fortunes": rows})


@app.get("/updates")
async def updates(queries: str | None = None) -> list[dict[str, int]]:
    n = query_param(queries, 1, 500)
    async with (await pool()).connection() as conn:
        worlds = [await fetch_world(conn) for _ in range(n)]
        for world in worlds:
            world["randomNumber"] = random.randint(1, 10000)
        # One transaction, rows in id order (no lock-order deadlocks on PostgreSQL).
        await write_worlds(conn, [(w["randomNumber"], w["id"]) for w in sorted(worlds, key=lambda w: w["id"])])
    return worlds


# ---- beyond them ---------------------------------------------------------------


@app.get("/io")
async def io(ms: str | None = None) -> dict[str, int]:
    waited = query_param(ms, 0, 10_000)
    await asyncio.sleep(waited / 1000)  # awaited: the loop serves others meanwhile
    return {"waited_ms": waited}


@app.get("/cpu")
async def cpu(n: str | None = None) -> dict[str, int]:
    count = query_param(n, 1, 1_000_000)
    x = 0
    for i in range(count):
        x = (x * 1664525 + 1013904223 + i) & 0xFFFFFFFF
    return {"n": count, "result": x}


# Only /echo gets the checking route class.
echo_router = APIRouter(route_class=EchoRoute)


@echo_router.post("/echo")
async def echo(body: Echo) -> Echo:
    return body


app.include_router(echo_router)


@app.get("/stream")
async def stream(kb: str | None = None) -> StreamingResponse:
    size = query_param(kb, 1, 10_240) * 1024

    async def chunks() -> AsyncIterator[bytes]:
        full, rest = divmod(size, STREAM_CHUNK)
        chunk = b"x" * STREAM_CHUNK
        for _ in range(full):
            yield chunk
        if rest:
            yield chunk[:rest]

    # The size is known up front, so it is declared: every server frames it the same way.
    return StreamingResponse(
        chunks(), media_type="application/octet-stream", headers={"Content-Length": str(size)}
    )


@app.websocket("/ws")
async def websocket_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message.get("bytes") or b"")
    except WebSocketDisconnect:
        return
