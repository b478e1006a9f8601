"""Helpers for tests that watch real processes: wait for a condition, read a command line, list a tree."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psutil


def wait_for(pred: Callable[[], Any], timeout: float = 60.0) -> Any:
    """The first truthy value of `pred()`, polled until `timeout`; an AssertionError if none came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
