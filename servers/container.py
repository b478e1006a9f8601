"""Inside the image: become the stack's own server on 0.0.0.0:8000 (compose.yaml's `stack` service).

The server replaces this process (exec), so the container's main process is the server's own master:
the harness samples that process tree (`podman inspect --format '{{.State.Pid}}'`) as it samples a
server it launched itself, with no Python wrapper's CPU or memory mixed in. No taskset here: the
container's cpuset and CPU quota pin it. `python -m servers.container STACK` (or $STACK); $SERVER_WORKERS
overrides the matrix's worker count (the tuned configuration); $PORT the port.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace

from servers.base import LaunchSpec, Runtime
from servers.matrix import MatrixError, Stack, load_matrix
from servers.registry import SERVERS

CONTAINER_HOST = "0.0.0.0"  # inside the container's own network namespace; compose publishes it on 127.0.0.1
CONTAINER_PORT = 8000


def server_command(stack: Stack, port: int = CONTAINER_PORT, host: str = CONTAINER_HOST) -> list[str]:
    """The stack's command line exactly as the launcher builds it, bound where the container listens."""
    spec = LaunchSpec(stack.target, stack.interface, host, port, stack.workers, stack.backlog, stack.options,
                      Runtime())
    return SERVERS[stack.server].command(spec)


def resolve(argv: Sequence[str], env: Mapping[str, str]) -> Stack:
    """The stack named on the command line or in $STACK, with $SERVER_WORKERS applied; ValueError if unknown."""
    name = argv[0] if argv else env.get("STACK", "")
    stacks = load_matrix().stacks
    if name not in stacks:
        raise ValueError(f"unknown stack {name!r}; set STACK to an id of `stackmark list`")
    stack = stacks[name]
    workers = env.get("SERVER_WORKERS", "")
    if workers:
        if not workers.isdigit() or int(workers) < 1:
            raise ValueError(f"SERVER_WORKERS={workers!r} is not a whole number of workers; e.g. SERVER_WORKERS=1")
        stack = replace(stack, workers=int(workers))
    return stack


def main(argv: Sequence[str]) -> int:
    try:
        stack = resolve(argv, os.environ)
        port = int(os.environ.get("PORT", CONTAINER_PORT))
    except (ValueError, MatrixError) as exc:
        print(f"servers.container: error: {exc}", file=sys.stderr)
        return 2
    command = server_command(stack, port)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # each Django entry point sets its own
    print(f"servers.container: {stack.id}: {' '.join(command)}", file=sys.stderr, flush=True)
    os.execvpe(command[0], command, env)  # an argument list, never a shell string


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
