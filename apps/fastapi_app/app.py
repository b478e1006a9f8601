"""Minimal FastAPI app under test (entry point ``apps.fastapi_app.app:app``).

Written the way FastAPI's docs would; responses are hard-coded on purpose and
nothing from the harness is imported.  Handlers are ``async def`` because
they do no blocking work (FastAPI would otherwise run them in a threadpool).
"""

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/json")
async def json() -> dict[str, str]:
    return {"message": "Hello, World!"}
