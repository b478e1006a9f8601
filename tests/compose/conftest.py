"""tests/compose/ runs only under `make test-compose` (root, Podman, a few minutes): the default `pytest`
does not even collect it unless STACKMARK_COMPOSE_TESTS=1."""
from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("STACKMARK_COMPOSE_TESTS") == "1" else ["test_*.py"]
