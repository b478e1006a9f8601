"""Minimal Flask app under test (entry point ``apps.flask_app.app:app``).

Written the way Flask's docs would; responses are hard-coded on purpose and
nothing from the harness is imported.
"""

from flask import Flask, Response

app = Flask(__name__)


@app.get("/plaintext")
def plaintext() -> Response:
    return Response("Hello, World!", mimetype="text/plain")


@app.get("/json")
def json() -> dict[str, str]:
    # Flask serialises a returned dict with jsonify().
    return {"message": "Hello, World!"}
