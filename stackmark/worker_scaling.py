"""Worker scaling as a matrix dimension (`stackmark bench --workers 1,2,...`): each selected stack runs at
each worker count as a stack of its own, `<id>-w<N>`.

Why a stack per count: every raw file, table and chart of a run is keyed by the stack id, so a count in the
id keeps each count's cells apart with no new key anywhere; `workers` (and so config_hash) differ too, and
stack.json keeps the app, variant and configuration that analysis/scaling.py groups the counts by.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from servers.matrix import Stack
from servers.registry import SERVERS
from stackmark.errors import UserError
from stackmark.select import whole_numbers

MAX_WORKER_COUNT = 256  # far beyond any machine stackmark runs on: a typo (1,20000) is caught here
SUFFIX = re.compile(r"-w\d+$")  # what scaled_stacks appends to an id


def worker_counts(values: Sequence[str | int]) -> list[int]:
    """--workers (or a profile's `workers`) as counts in the order given, or one line naming the problem."""
    counts = whole_numbers(values, "--workers", MAX_WORKER_COUNT)
    if not counts:
        raise UserError("--workers needs at least one worker count, e.g. --workers 1,2")
    repeated = sorted({n for n in counts if counts.count(n) > 1})
    if repeated:
        raise UserError(f"--workers lists {', '.join(map(str, repeated))} more than once; give each count once, "
                        "e.g. --workers 1,2,4")
    return counts


def scaled_stacks(stacks: Sequence[Stack], counts: Sequence[int]) -> list[Stack]:
    """Each stack at each count, the counts of one stack side by side (they are compared with each other, so
    they run close in time); or one line naming a stack whose server cannot run that many workers."""
    for stack in stacks:
        server = SERVERS.get(stack.server)
        if server is None:
            raise UserError(f"{stack.id} is not a server stackmark launches, so it has no worker count to set; "
                            "drop --workers")
        most = server.max_workers
        if most is not None and max(counts) > most:
            raise UserError(f"{stack.id} runs on {stack.server}, which runs at most {most} worker(s), not "
                            f"{max(counts)}; leave it out of --stacks or keep --workers to {most}")
    return [replace(stack, id=f"{stack.id}-w{n}", workers=n) for stack in stacks for n in counts]


def base_ids(ids: Sequence[str]) -> list[str]:
    """The matrix ids behind a worker-scaling run's stack ids (the -w<N> suffix dropped), in order, once each."""
    return list(dict.fromkeys(SUFFIX.sub("", i) for i in ids))
