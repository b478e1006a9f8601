"""Which matrix stacks the per-stack integration tests start by default, and how to start them all.

Every stack of the quick profile (what `make bench` measures), plus one stack for each app and each
server variant that only the fair-comparison stacks use (Django's async views, Gunicorn's ASGI
worker, Daphne): every app and every server's code path is still started in `make test`, within its
time budget. `make test-all-stacks` (STACKMARK_ALL_STACKS=1) starts every stack of the matrix.
"""
from __future__ import annotations

import os

from servers.matrix import Stack, load_matrix
from stackmark.select import profile_stacks

ALL_STACKS_ENV = "STACKMARK_ALL_STACKS"


def default_stacks() -> list[Stack]:
    """The quick profile's stacks, then the first stack of each app or variant they leave out."""
    matrix = load_matrix()
    if os.environ.get(ALL_STACKS_ENV) == "1":
        return list(matrix.stacks.values())
    chosen = profile_stacks(matrix, matrix.profiles["quick"])
    apps, variants = {s.app for s in chosen}, {s.variant for s in chosen}
    for stack in matrix.stacks.values():
        if stack not in chosen and (stack.app not in apps or stack.variant not in variants):
            chosen.append(stack)
            apps.add(stack.app)
            variants.add(stack.variant)
    return chosen


def default_stack_ids() -> list[str]:
    return [s.id for s in default_stacks()]
