"""What a long run shows while it runs: one event interface, two views of it.

`stackmark bench` (and `ab`) report events (a stack starts, a phase begins, a cell ends, something failed)
to a `Progress`. On a terminal that is a rich live display (the current stack and phase, cells done and
left, elapsed time, an estimate of the time left, and the measured window's throughput so far) with the
lasting lines printed above it; anywhere else (CI logs, pipes) it is plain lines, one per event, with no
control characters. Phases inside a cell are read from Locust's own files (`CellWatch`), never guessed
from the harness's clock alone, and the throughput is Locust's own running count after its stats reset
at the window, shown only once that reset is seen.
"""
from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from analysis.labels import LABELS
from stackmark.loadgen import LiveStats

Clock = Callable[[], float]
CELL_OVERHEAD_S = 3.0  # Locust's start and stop, the sampler, the writes: per cell, beyond its phases
PLAIN_RATE_EVERY_S = 10.0  # the plain printer repeats a cell's throughput at most this often (CI logs stay short)
LOAD_PHASES = ("primer", "warm-up", "measure")


class Progress(Protocol):
    """The events of a run, in the order they happen; views decide what to show."""

    def begin(self, cells: int, nominal_cell_s: float) -> None: ...
    def line(self, text: str) -> None: ...
    def stack_started(self, stack: str, repeat: int) -> None: ...
    def phase(self, stack: str, name: str) -> None: ...
    def cell_started(self, stack: str, cell: str) -> None: ...
    def throughput(self, stack: str, cell: str, live: LiveStats) -> None: ...
    def cell_done(self, stack: str, cell: str, ok: bool, reason: str | None) -> None: ...
    def failure(self, stack: str, text: str, cells_lost: int = 0) -> None: ...
    def stack_done(self, stack: str, seconds: float) -> None: ...


def nominal_cell_s(primer_s: float, warmup_s: float, duration_s: float) -> float:
    """What a cell should take before any has been measured: its phases plus the fixed overhead."""
    return primer_s + warmup_s + duration_s + CELL_OVERHEAD_S


def clock_text(seconds: float) -> str:
    """1:05 or 1:02:05: a duration the way a stopwatch shows it."""
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def plain_text(text: str) -> str:
    """`text` on one line with every control character (escapes, carriage returns, newlines) a space."""
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


def rate_text(live: LiveStats) -> str:
    return f"{live.rps:,.0f} {LABELS['rps']} so far in the measured window ({live.requests:,} requests)"


@dataclass
class Eta:
    """Cells done and left, and the time left: cells left x the time a cell takes (its nominal length
    until one has run, then the measured average, each stack's start and verify included), less the time
    already spent on the current cell, so the estimate counts down between cells."""

    clock: Clock = time.monotonic
    cells: int = 0
    nominal_s: float = 0.0
    run: int = 0  # cells that ran (ok or failed)
    lost: int = 0  # cells that will not run: their stack failed to start, verify, or crashed
    started: float | None = None
    last_done: float | None = None

    def begin(self, cells: int, nominal_s: float) -> None:
        self.cells, self.nominal_s, self.run, self.lost = cells, nominal_s, 0, 0
        self.started = self.last_done = self.clock()

    def cell_done(self) -> None:
        self.run += 1
        self.last_done = self.clock()

    @property
    def left(self) -> int:
        return max(0, self.cells - self.run - self.lost)

    def elapsed_s(self) -> float:
        return 0.0 if self.started is None else self.clock() - self.started

    def per_cell_s(self) -> float:
        if self.run and self.started is not None and self.last_done is not None:
            return (self.last_done - self.started) / self.run
        return self.nominal_s

    def remaining_s(self) -> float:
        if not self.left:
            return 0.0
        in_cell = 0.0 if self.last_done is None else self.clock() - self.last_done
        per = self.per_cell_s()
        return max((self.left - 1) * per, self.left * per - in_cell)

    def counts(self) -> str:
        """'3 of 45 cells done, 42 left'."""
        lost = f" ({self.lost} not run)" if self.lost else ""
        return f"{self.run} of {self.cells} cells done{lost}, {self.left} left"

    def times(self) -> str:
        """'elapsed 0:12, about 5:10 left'."""
        return f"elapsed {clock_text(self.elapsed_s())}, about {clock_text(self.remaining_s())} left"

    def summary(self) -> str:
        return f"{self.counts()}, {self.times()}"


def phase_at(t: float, primer_s: float, warmup_s: float, duration_s: float) -> str | None:
    """The load phase `t` seconds after Locust's test started (None once the measured window is over)."""
    for name, end in zip(LOAD_PHASES, (primer_s, primer_s + warmup_s, primer_s + warmup_s + duration_s),
                         strict=True):
        if t < end:
            return name
    return None


@dataclass
class CellWatch:
    """One cell's phases and live throughput, from Locust's files, polled while Locust runs.

    The phase comes from the time since Locust's test started (`started`: when its stats history was
    first written) and the phase lengths. The throughput is Locust's own `Aggregated` row, which counts
    from its last stats reset: the load shape resets it when the window opens, so it is shown only after
    that reset is seen (the count or Locust's own span falls back), or at once if nothing ran before it.
    """

    primer_s: float
    warmup_s: float
    duration_s: float
    started: Callable[[], float | None]
    stats: Callable[[], LiveStats | None]
    on_phase: Callable[[str], None]
    on_rate: Callable[[LiveStats], None]
    clock: Clock = time.time
    phase: str | None = None
    reset_seen: bool = False
    _anchor: float | None = None
    _before: LiveStats | None = None  # the latest totals seen before the reset
    _shown: LiveStats | None = None

    def poll(self) -> None:
        if self._anchor is None:
            self._anchor = self.started()
            if self._anchor is None:
                return
        name = phase_at(self.clock() - self._anchor, self.primer_s, self.warmup_s, self.duration_s)
        if name is not None and name != self.phase:
            self.phase = name
            self.on_phase(name)
        live = self.stats()
        if live is None or self.phase != "measure":
            self._remember(live)
            return
        if not self.reset_seen:
            self.reset_seen = self._is_reset(live)
            self._remember(live)
        if self.reset_seen and live.requests and live != self._shown:
            self._shown = live
            self.on_rate(live)

    def _remember(self, live: LiveStats | None) -> None:
        if live is not None and live.requests and not self.reset_seen:
            self._before = live

    def _is_reset(self, live: LiveStats) -> bool:
        before = self._before
        if before is None:
            return self.primer_s + self.warmup_s == 0  # the window opened before any request
        return live.requests < before.requests or (live.rps > 0 and live.span_s < before.span_s)


class PlainProgress:
    """One line per event, nothing but printable text: for CI logs and pipes."""

    def __init__(self, write: Callable[[str], None] | None = None, clock: Clock = time.monotonic,
                 rate_every_s: float = PLAIN_RATE_EVERY_S) -> None:
        self.write = write or _print_line
        self.eta = Eta(clock)
        self.clock = clock
        self.rate_every_s = rate_every_s
        self.repeat = 0
        self.cell = ""
        self._rate_at: float | None = None

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def _emit(self, text: str) -> None:
        self.write(plain_text(text))

    def begin(self, cells: int, nominal_cell_s: float) -> None:
        self.eta.begin(cells, nominal_cell_s)
        self._emit(f"cells to run: {cells}")  # the time left follows each finished cell

    def line(self, text: str) -> None:
        self._emit(text)

    def stack_started(self, stack: str, repeat: int) -> None:
        self.repeat, self.cell = repeat, ""
        self._emit(f"[{repeat}] {stack}: start")

    def phase(self, stack: str, name: str) -> None:
        self._emit(f"[{self.repeat}] {_where(stack, self.cell)}: {name}")

    def cell_started(self, stack: str, cell: str) -> None:
        self.cell, self._rate_at = cell, None

    def throughput(self, stack: str, cell: str, live: LiveStats) -> None:
        now = self.clock()
        if self._rate_at is not None and now - self._rate_at < self.rate_every_s:
            return
        self._rate_at = now
        self._emit(f"[{self.repeat}] {_where(stack, cell)}: {rate_text(live)}")

    def cell_done(self, stack: str, cell: str, ok: bool, reason: str | None) -> None:
        self.eta.cell_done()
        verdict = "ok" if ok else f"FAILED: {reason}"
        self._emit(f"[{self.repeat}] {_where(stack, cell)}: {verdict}; {self.eta.summary()}")
        self.cell = ""

    def failure(self, stack: str, text: str, cells_lost: int = 0) -> None:
        self.eta.lost += cells_lost
        self._emit(f"[{self.repeat}] {stack}: {text}")

    def stack_done(self, stack: str, seconds: float) -> None:
        self._emit(f"[{self.repeat}] {stack}: done in {seconds:.1f} s")


class LiveProgress(PlainProgress):
    """The terminal view: the same lasting lines, printed above a live status of the current work."""

    def __init__(self, console: Console, clock: Clock = time.monotonic) -> None:
        super().__init__(lambda text: console.print(Text(text), soft_wrap=True), clock)
        self.console = console
        self.stack = ""
        self.current_phase = ""
        self.rate: LiveStats | None = None
        self.live = Live(get_renderable=self.render, console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> LiveProgress:
        self.live.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.live.stop()  # on Ctrl-C too: the cursor comes back and the status disappears

    def render(self) -> RenderableType:
        """The status block: where the run is, how far, and the throughput while a window is measured."""
        where = f"[{self.repeat}] {_where(self.stack, self.cell)}" if self.stack else "starting"
        head = Text.assemble((where, "bold"), "  ", (self.current_phase, "cyan"))
        if self.eta.started is None:
            return head
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=max(1, self.eta.cells), completed=self.eta.run + self.eta.lost, width=24),
                    Text(self.eta.counts()))
        rows: list[RenderableType] = [head, bar, Text(self.eta.times())]
        if self.rate is not None and self.current_phase == "measure":
            rows.append(Text(f"live: {rate_text(self.rate)}", style="green"))
        return Group(*rows)

    def stack_started(self, stack: str, repeat: int) -> None:
        self.repeat, self.stack, self.cell, self.current_phase, self.rate = repeat, stack, "", "start", None
        self._emit(f"[{repeat}] {stack}: start")

    def phase(self, stack: str, name: str) -> None:
        self.current_phase = name  # shown live; only the lasting events are printed

    def cell_started(self, stack: str, cell: str) -> None:
        self.cell, self.current_phase, self.rate = cell, "Locust starting", None

    def throughput(self, stack: str, cell: str, live: LiveStats) -> None:
        self.rate = live

    def cell_done(self, stack: str, cell: str, ok: bool, reason: str | None) -> None:
        super().cell_done(stack, cell, ok, reason)
        self.current_phase, self.rate = "", None


def for_console(console: Console) -> PlainProgress:
    """The live display on a terminal, plain lines anywhere else (a pipe, a CI log, TERM=dumb)."""
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveProgress(console)
    return PlainProgress()


def _where(stack: str, cell: str) -> str:
    return f"{stack} {cell}" if cell else stack


def _print_line(text: str) -> None:
    print(text, flush=True)


__all__ = ["CellWatch", "Eta", "LiveProgress", "PlainProgress", "Progress", "clock_text", "for_console",
           "nominal_cell_s", "phase_at", "plain_text"]
