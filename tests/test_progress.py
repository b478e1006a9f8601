"""Progress on long runs: the estimate, the phase and throughput watch, both views, and one real bench."""
from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from stackmark.loadgen import LiveStats, live_stats, locust_started_at
from stackmark.progress import (
    CellWatch,
    Eta,
    LiveProgress,
    PlainProgress,
    clock_text,
    for_console,
    phase_at,
    plain_text,
)

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # everything but the newline


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_eta_starts_from_the_nominal_cell_then_follows_the_measured_average() -> None:
    clock = FakeClock()
    eta = Eta(clock)
    assert eta.elapsed_s() == 0.0  # nothing begun: no elapsed time from the clock's origin
    eta.begin(10, 8.0)
    assert (eta.left, eta.remaining_s()) == (10, 80.0)
    clock.now += 30.0
    assert eta.remaining_s() == 72.0  # the first cell overran: never less than the cells after it
    eta.cell_done()
    eta.cell_done()
    assert eta.per_cell_s() == 15.0 and eta.left == 8 and eta.remaining_s() == 120.0
    clock.now += 5.0
    assert eta.remaining_s() == 115.0  # counts down within a cell
    eta.lost = 3  # a stack that failed to start: its cells will not run, so they are not waited for
    assert eta.left == 5 and eta.remaining_s() == 70.0
    assert eta.summary() == "2 of 10 cells done (3 not run), 5 left, elapsed 0:35, about 1:10 left"
    eta.run = 7
    assert eta.left == 0 and eta.remaining_s() == 0.0


def test_clock_text_and_phase_boundaries() -> None:
    assert [clock_text(s) for s in (0, 59.6, 65, 3725)] == ["0:00", "1:00", "1:05", "1:02:05"]
    assert [phase_at(t, 1.0, 2.0, 5.0) for t in (0.0, 0.99, 1.0, 2.99, 3.0, 7.99, 8.0)] == [
        "primer", "primer", "warm-up", "warm-up", "measure", "measure", None]
    assert phase_at(0.0, 0.0, 0.0, 2.0) == "measure"  # no primer, no warm-up: straight to the window


@dataclass
class Feed:
    """What Locust's files say at the moment: when its test started, its running totals."""

    started: float | None = None
    stats: LiveStats | None = None


def _watch(clock: FakeClock, feed: Feed, primer: float = 1.0, warmup: float = 1.0,
           ) -> tuple[CellWatch, list[str], list[LiveStats]]:
    phases: list[str] = []
    rates: list[LiveStats] = []
    watch = CellWatch(primer, warmup, 4.0, started=lambda: feed.started, stats=lambda: feed.stats,
                      on_phase=phases.append, on_rate=rates.append, clock=clock)
    return watch, phases, rates


def test_watch_follows_locusts_clock_and_shows_throughput_only_after_the_window_reset() -> None:
    clock = FakeClock(100.0)
    feed = Feed(None, None)
    watch, phases, rates = _watch(clock, feed)
    watch.poll()  # Locust still starting: no phase yet
    assert phases == []
    feed.started = 100.5
    clock.now = 101.0
    watch.poll()
    feed.stats = LiveStats(requests=900, rps=600.0)  # primer and warm-up totals
    clock.now = 102.4
    watch.poll()
    assert phases == ["primer", "warm-up"] and rates == []
    clock.now = 102.8  # the window by the clock, but Locust's totals still cover the warm-up: not shown
    watch.poll()
    assert phases == ["primer", "warm-up", "measure"] and rates == []
    feed.stats = LiveStats(requests=400, rps=800.0)  # reset at the window: the count fell back
    clock.now = 103.3
    watch.poll()
    feed.stats = LiveStats(requests=1200, rps=800.0)
    clock.now = 104.3
    watch.poll()
    watch.poll()  # unchanged totals are not repeated
    assert rates == [LiveStats(400, 800.0), LiveStats(1200, 800.0)]


def test_watch_sees_the_reset_by_locusts_span_when_the_count_did_not_fall() -> None:
    clock = FakeClock(0.0)
    feed = Feed(0.0, LiveStats(requests=100, rps=50.0))  # 2 s of primer
    watch, _, rates = _watch(clock, feed, primer=2.0, warmup=0.0)
    clock.now = 1.9
    watch.poll()
    clock.now = 2.5
    feed.stats = LiveStats(requests=300, rps=600.0)  # more requests, but over 0.5 s: counted from a reset
    watch.poll()
    assert rates == [LiveStats(300, 600.0)]


def test_watch_never_shows_totals_it_cannot_tell_from_the_warm_up() -> None:
    clock = FakeClock(0.0)
    feed = Feed(0.0, None)
    watch, phases, rates = _watch(clock, feed)
    clock.now = 2.5
    feed.stats = LiveStats(requests=5000, rps=2000.0)  # first seen inside the window: reset or not?
    watch.poll()
    assert phases == ["measure"] and rates == [] and not watch.reset_seen


def test_watch_without_primer_or_warm_up_shows_the_first_totals() -> None:
    clock = FakeClock(0.0)
    feed = Feed(0.0, LiveStats(requests=10, rps=100.0))
    watch, phases, rates = _watch(clock, feed, primer=0.0, warmup=0.0)
    watch.poll()
    assert phases == ["measure"] and rates == [LiveStats(10, 100.0)]


def test_locusts_files_read_as_the_watch_needs_them(tmp_path: Path) -> None:
    assert live_stats(tmp_path) is None and locust_started_at(tmp_path) is None
    (tmp_path / "locust_stats.csv").write_text(
        "Type,Name,Request Count,Failure Count,Requests/s\nGET,/json,4704,0,1176.4\n,Aggregated,4704,0,1176.4\n")
    assert live_stats(tmp_path) == LiveStats(4704, 1176.4)
    history = tmp_path / "locust_stats_history.csv"
    history.write_text("Timestamp,User Count,Name\n")  # header only: the test has not started
    assert locust_started_at(tmp_path) is None
    history.write_text("Timestamp,User Count,Name\n1795468278,0,Aggregated\n")
    assert locust_started_at(tmp_path) == history.stat().st_mtime
    history.write_text("Timestamp,User Count,Name\n1795468278,0,Aggregated\n1795468283,32,Aggregated\n")
    assert locust_started_at(tmp_path) == 1795468278.0


def _events(progress: PlainProgress, clock: FakeClock) -> None:
    progress.begin(2, 10.0)
    progress.line("run folder: /tmp/x")
    progress.stack_started("fastapi-uvicorn", 0)
    progress.phase("fastapi-uvicorn", "verify")
    progress.cell_started("fastapi-uvicorn", "json c8")
    progress.phase("fastapi-uvicorn", "measure")
    progress.throughput("fastapi-uvicorn", "json c8", LiveStats(1000, 1000.0))
    clock.now += 5
    progress.throughput("fastapi-uvicorn", "json c8", LiveStats(6000, 1200.0))  # within 10 s: not repeated
    clock.now += 6
    progress.throughput("fastapi-uvicorn", "json c8", LiveStats(13000, 1180.0))
    progress.cell_done("fastapi-uvicorn", "json c8", True, None)
    progress.cell_started("fastapi-uvicorn", "db c8")
    progress.cell_done("fastapi-uvicorn", "db c8", False, "mostly errors:\r\n\x1b[31m500\x1b[0m")
    progress.stack_done("fastapi-uvicorn", 21.0)
    progress.stack_started("flask-granian", 0)
    progress.failure("flask-granian", "FAILED to start: port in use", cells_lost=2)


def test_plain_printer_one_line_per_event_in_order_with_no_control_characters() -> None:
    clock = FakeClock()
    lines: list[str] = []
    _events(PlainProgress(lines.append, clock), clock)
    assert lines == [
        "cells to run: 2",
        "run folder: /tmp/x",
        "[0] fastapi-uvicorn: start",
        "[0] fastapi-uvicorn: verify",
        "[0] fastapi-uvicorn json c8: measure",
        "[0] fastapi-uvicorn json c8: 1,000 req/s so far in the measured window (1,000 requests)",
        "[0] fastapi-uvicorn json c8: 1,180 req/s so far in the measured window (13,000 requests)",
        "[0] fastapi-uvicorn json c8: ok; 1 of 2 cells done, 1 left, elapsed 0:11, about 0:11 left",
        "[0] fastapi-uvicorn db c8: FAILED: mostly errors:   [31m500 [0m; 2 of 2 cells done, 0 left, "
        "elapsed 0:11, about 0:00 left",
        "[0] fastapi-uvicorn: done in 21.0 s",
        "[0] flask-granian: start",
        "[0] flask-granian: FAILED to start: port in use",
    ]
    assert not any(CONTROL.search(line) for line in lines)
    assert plain_text("a\tb\x1b[0m\r\n") == "a b [0m  "


def test_live_display_shows_stack_phase_cells_and_estimate() -> None:
    console = Console(record=True, force_terminal=True, width=80, file=io.StringIO())
    clock = FakeClock()
    progress = LiveProgress(console, clock)
    progress.begin(4, 10.0)
    progress.stack_started("fastapi-uvicorn", 1)
    progress.cell_started("fastapi-uvicorn", "json c8")
    clock.now += 10
    progress.cell_done("fastapi-uvicorn", "json c8", True, None)
    clock.now += 2
    progress.cell_started("fastapi-uvicorn", "db c8")
    progress.phase("fastapi-uvicorn", "measure")
    progress.throughput("fastapi-uvicorn", "db c8", LiveStats(2400, 1200.0))
    console.export_text()  # only the status block from here on
    console.print(progress.render())
    text = console.export_text()
    assert "[1] fastapi-uvicorn db c8" in text and "measure" in text
    assert "1 of 4 cells done, 3 left" in text and "elapsed 0:12, about 0:28 left" in text
    assert "live: 1,200 req/s so far in the measured window (2,400 requests)" in text


def test_live_display_stops_on_ctrl_c_and_gives_the_terminal_back() -> None:
    buffer = io.StringIO()
    console = Console(force_terminal=True, width=80, file=buffer)
    progress = LiveProgress(console)
    with pytest.raises(KeyboardInterrupt), progress:
        progress.begin(3, 5.0)
        progress.stack_started("fastapi-uvicorn", 0)
        raise KeyboardInterrupt
    assert not progress.live.is_started
    written = buffer.getvalue()
    assert written.rindex("\x1b[?25h") > written.rindex("\x1b[?25l")  # the cursor is shown again


def test_plain_lines_wherever_the_output_is_not_a_terminal() -> None:
    assert type(for_console(Console(file=io.StringIO()))) is PlainProgress
    assert type(for_console(Console(file=io.StringIO(), force_terminal=True))) is LiveProgress


@pytest.mark.integration
def test_a_piped_bench_prints_plain_event_lines_in_order(stackmark_cmd: list[str], tmp_path: Path) -> None:
    r = subprocess.run(
        [*stackmark_cmd, "bench", "--stacks", "fastapi-uvicorn", "--scenario", "json", "--concurrency", "8",
         "--duration", "2", "--warmup", "0.5", "--primer", "0.5", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=180,
    )
    assert r.returncode == 0, r.stdout
    assert not CONTROL.search(r.stdout), r.stdout
    lines = r.stdout.splitlines()
    expected = [r"\[0\] fastapi-uvicorn: start", r"\[0\] fastapi-uvicorn: verify",
                r"\[0\] fastapi-uvicorn json c8: primer", r"\[0\] fastapi-uvicorn json c8: warm-up",
                r"\[0\] fastapi-uvicorn json c8: measure",
                r"\[0\] fastapi-uvicorn json c8: ok; 1 of 1 cells done, 0 left, elapsed \d+:\d\d, about 0:00 left",
                r"\[0\] fastapi-uvicorn: done in [\d.]+ s"]
    found = [next((i for i, line in enumerate(lines) if re.fullmatch(pattern, line)), -1) for pattern in expected]
    assert -1 not in found and found == sorted(found), r.stdout
