"""Server modules by name: adding a server is a module plus one line here."""
from __future__ import annotations

from servers.base import Server
from servers.daphne import Daphne
from servers.granian import Granian
from servers.gunicorn import Gunicorn
from servers.hypercorn import Hypercorn
from servers.uvicorn import Uvicorn
from servers.uwsgi import UWSGI

SERVERS: dict[str, Server] = {s.name: s for s in (Gunicorn(), UWSGI(), Uvicorn(), Hypercorn(), Granian(), Daphne())}
