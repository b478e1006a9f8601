"""A guard that takes a process group down when the harness dies, even by SIGKILL.

Teardown in the harness (`with launch(...)`, Ctrl-C, SIGTERM) covers every way
out but one: `kill -9` of stackmark itself, which runs no code. So each process
group stackmark starts gets a watchdog: a tiny process in its own session that
holds the read end of a pipe whose write end only stackmark holds. When the
harness tears the group down itself it writes "done" and the watchdog leaves;
when the pipe closes without it (the harness died), the watchdog sends the
group SIGTERM, then SIGKILL, and exits.

Run as `python servers/watchdog.py PGID` with the pipe on stdin; stdlib only.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DONE = b"done\n"
GRACE_S = 2.0


class Watchdog:
    """The harness's end of one watchdog: `release()` after a clean teardown."""

    def __init__(self, pgid: int) -> None:
        self._released = False
        read_end, self._write_end = os.pipe()
        try:
            self._proc = subprocess.Popen(  # an argument list, never a shell string
                [sys.executable, str(Path(__file__).resolve()), str(pgid)],
                stdin=read_end, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal does not reach it
                close_fds=True,
            )
        finally:
            os.close(read_end)  # os.pipe() ends are not inherited, so only this process holds the write end

    def release(self) -> None:
        """The group is gone: tell the watchdog to leave without killing anything. Idempotent."""
        if self._released:
            return
        self._released = True
        with contextlib.suppress(OSError):
            os.write(self._write_end, DONE)
        os.close(self._write_end)
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _guard(pgid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    data = b""
    while chunk := os.read(0, 64):
        data += chunk
    if data.startswith(DONE):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + GRACE_S
        while time.monotonic() < deadline and group_alive(pgid):
            time.sleep(0.05)


if __name__ == "__main__":
    _guard(int(sys.argv[1]))
