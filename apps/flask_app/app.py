"""The Flask app under test (entry point ``apps.flask_app.app:app``).

Written the way Flask's docs would; responses are hard-coded on purpose and
nothing from the harness is imported (the contract in ``apps/contract.py``
checks this app from the outside).

Database: ``DATABASE_URL`` names SQLite (``sqlite:////abs/file.sqlite3``,
the stdlib ``sqlite3`` module) or PostgreSQL (``postgresql://...``,
psycopg 3).  Each thread of each worker process opens its own connection on
first use (so after the server forks, one per thread for threaded servers)
and keeps it; SQLite waits up to 15 s for a lock instead of failing, and
``/updates`` takes the write lock up front (``BEGIN IMMEDIATE``) so
concurrent writers queue instead of deadlocking.
"""

from __future__ import annotations

import json as jsonlib
import os
import random
import sqlite3
import threading
import time
from collections import namedtuple
from typing import Any

from flask import Flask, Response, jsonify, render_template, request

app = Flask(__name__)

Fortune = namedtuple("Fortune", "id message")
ADDITIONAL_FORTUNE = "Additional fortune added at request time."
ECHO_MAX_BYTES = 64 * 1024
STREAM_CHUNK = 16 * 1024


# ---- database: one connection per thread, opened lazily ---------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "")
IS_SQLITE = DATABASE_URL.startswith("sqlite:")
_P = "?" if IS_SQLITE else "%s"  # the drivers' placeholder styles
SELECT_WORLD = f"SELECT id, randomnumber FROM world WHERE id = {_P}"
UPDATE_WORLD = f"UPDATE world SET randomnumber = {_P} WHERE id = {_P}"
SELECT_FORTUNES = "SELECT id, message FROM fortune"

_local = threading.local()


def db() -> Any:
    """This thread's connection (sqlite3 or psycopg, autocommit), opened on first use."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        if IS_SQLITE:
            # sqlite:////abs/path -> /abs/path; autocommit, we BEGIN ourselves.
            path = DATABASE_URL.split("://", 1)[1][1:]
            conn = sqlite3.connect(path, timeout=15, isolation_level=None)
        elif DATABASE_URL.startswith(("postgresql:", "postgres:")):
            import psycopg

            conn = psycopg.connect(DATABASE_URL, autocommit=True)
        else:
            raise RuntimeError("DATABASE_URL must be sqlite:////path or postgresql://...")
        _local.conn = conn
    return conn


def query_param(name: str, lo: int, hi: int) -> int:
    """Missing or non-numeric -> lo, else clamped to lo..hi."""
    try:
        value = int(request.args.get(name, ""))
    except ValueError:
        return lo
    return max(lo, min(hi, value))


def random_world(conn: Any) -> dict[str, int]:
    row = conn.execute(SELECT_WORLD, (random.randint(1, 10000),)).fetchone()
    return {"id": row[0], "randomNumber": row[1]}


# ---- the classic six --------------------------------------------------------


@app.get("/plaintext")
def plaintext() -> Response:
    return Response("Hello, World!", mimetype="text/plain")


@app.get("/json")
def json() -> dict[str, str]:
    # Flask serialises a returned dict with jsonify().
    return {"message": "Hello, World!"}


@app.get("/db")
def single_query() -> dict[str, int]:
    return random_world(db())


@app.get("/queries")
def multiple_queries() -> Response:
    conn = db()
    return jsonify([random_world(conn) for _ in range(query_param("queries", 1, 500))])


@app.get("/fortunes")
def fortunes() -> str:
    rows = [Fortune(*row) for row in db().execute(SELECT_FORTUNES).fetchall()]
    rows.append(Fortune(0, ADDITIONAL_FORTUNE))
    rows.sort(key=lambda f: f.message)
    return render_template("fortunes.html", fortunes=rows)


@app.get("/updates")
def updates() -> Response:
    conn = db()
    worlds = [random_world(conn) for _ in range(query_param("queries", 1, 500))]
    for world in worlds:
        world["randomNumber"] = random.randint(1, 10000)
    # One transaction, rows in id order (no lock-order deadlocks on PostgreSQL).
    params = [(w["randomNumber"], w["id"]) for w in sorted(worlds, key=lambda w: w["id"])]
    if IS_SQLITE:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(UPDATE_WORLD, params)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    else:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(UPDATE_WORLD, params)
    return jsonify(worlds)


# ---- beyond them ---------------------------------------------------------------


@app.get("/io")
def io() -> dict[str, int]:
    # A WSGI app blocks its worker thread while it waits on an upstream.
    ms = query_param("ms", 0, 10_000)
    time.sleep(ms / 1000)
    return {"waited_ms": ms}


@app.get("/cpu")
def cpu() -> dict[str, int]:
    n = query_param("n", 1, 1_000_000)
    x = 0
    for i in range(n):
        x = (x * 1664525 + 1013904223 + i) & 0xFFFFFFFF
    return {"n": n, "result": x}


def error(status: int, code: str) -> tuple[Response, int]:
    return jsonify(error=code), status


def valid_echo(body: Any) -> bool:
    """{"name": str 1..100, "count": int 0..1000 (not bool), "tags": <= 10 str}, nothing else."""
    return (
        type(body) is dict
        and body.keys() == {"name", "count", "tags"}
        and type(body["name"]) is str
        and 1 <= len(body["name"]) <= 100
        and type(body["count"]) is int
        and 0 <= body["count"] <= 1000
        and type(body["tags"]) is list
        and len(body["tags"]) <= 10
        and all(type(tag) is str for tag in body["tags"])
    )


@app.post("/echo")
def echo() -> Any:
    if request.content_length is not None and request.content_length > ECHO_MAX_BYTES:
        return error(413, "too_large")  # decided before reading the body
    if request.mimetype != "application/json":
        return error(415, "unsupported_media_type")
    raw = request.stream.read(ECHO_MAX_BYTES + 1)
    if len(raw) > ECHO_MAX_BYTES:
        return error(413, "too_large")  # chunked request without Content-Length
    try:
        body = jsonlib.loads(raw)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return error(400, "malformed_json")
    if not valid_echo(body):
        return error(422, "invalid_body")
    return body


@app.get("/stream")
def stream() -> Response:
    size = query_param("kb", 1, 10_240) * 1024

    def chunks():  # type: ignore[no-untyped-def]
        full, rest = divmod(size, STREAM_CHUNK)
        chunk = b"x" * STREAM_CHUNK
        for _ in range(full):
            yield chunk
        if rest:
            yield chunk[:rest]

    # The size is known up front, so it is declared: every server frames it the same way.
    return Response(chunks(), mimetype="application/octet-stream", headers={"Content-Length": str(size)})
