"""The report's "What the scenarios answer": for each kind of question present in a run, its one-sentence
answer, its chart and its figures as a small table.

A registry (KINDS), not an if-chain: each kind names its chart file, how to draw it, its sentence and its
table, all pure functions of the Analysis's frames (analysis.scenario_cells.ScenarioFrames). A kind is
present when its sentence is not None. Charts are written once with the report's others
(scenario_charts) and picked up again by file name when the page is rendered (scenario_views).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis import chart_scaling, chart_scenarios, chart_shapes, scenario_text, scenario_text_shapes
from analysis.analyze import Analysis
from analysis.charts import Chart
from analysis.scenario_cells import ScenarioFrames, mix_endpoints
from analysis.scenario_text import Table

SECTION = "scenarios"


@dataclass(frozen=True)
class Kind:
    """One question a scenario answers: its heading, its chart (file and drawing), its sentence and table."""

    key: str
    heading: str
    file: str  # the chart's stable PNG name in report/
    draw: Callable[[ScenarioFrames, Path], Chart | None]
    sentence: Callable[[ScenarioFrames], str | None]
    table: Callable[[ScenarioFrames], Table]


KINDS: tuple[Kind, ...] = (
    Kind("io", "I/O-bound: do async stacks help, and how far do sync workers fall?", "scenario-io.png",
         lambda f, out: chart_scenarios.io_chart(f.aggregate, out), scenario_text.io_sentence,
         scenario_text.io_table),
    Kind("mix", "A realistic mix: each endpoint's latency", "scenario-mix.png",
         lambda f, out: chart_scenarios.mix_chart(mix_endpoints(f.endpoints, f.figures), f.aggregate, out),
         scenario_text.mix_sentence,
         scenario_text.mix_table),
    Kind("ramp", "Ramp to saturation: capacity and the knee", "scenario-ramp.png",
         lambda f, out: chart_shapes.ramp_chart(f.stages, f.figures, out), scenario_text_shapes.ramp_sentence,
         scenario_text_shapes.shape_table("ramp")),
    Kind("spike", "Spike: errors and latency during it, and the way back", "scenario-spike.png",
         lambda f, out: chart_shapes.spike_chart(f.series, f.stages, f.figures, out),
         scenario_text_shapes.spike_sentence,
         scenario_text_shapes.shape_table("spike")),
    Kind("soak", "Soak: memory growth and drift", "scenario-soak.png",
         lambda f, out: chart_shapes.soak_chart(f.series, f.figures, out), scenario_text_shapes.soak_sentence,
         scenario_text_shapes.shape_table("soak")),
    Kind("payload", "Payload size: bytes or requests?", "scenario-payload.png",
         lambda f, out: chart_scenarios.payload_chart(f.aggregate, out), scenario_text.payload_sentence,
         scenario_text.payload_table),
    Kind("open", "Open model: latency corrected for coordinated omission", "scenario-open.png",
         lambda f, out: chart_scenarios.open_chart(f.aggregate, out), scenario_text.open_sentence,
         scenario_text.open_table),
    Kind("scaling", "Worker scaling: what a second worker buys", chart_scaling.FILE,
         lambda f, out: chart_scaling.scaling_chart(f.scaling, out), scenario_text.scaling_sentence,
         scenario_text.scaling_table),
)


def frames_of(analysis: Analysis) -> ScenarioFrames:
    """The frames of an Analysis the section reads (each computed once, by analysis.analyze)."""
    return ScenarioFrames(aggregate=analysis.aggregate, figures=analysis.figures, stages=analysis.stages,
                          endpoints=analysis.endpoints, series=analysis.series, scaling=analysis.scaling,
                          cells=analysis.frame)


def present(frames: ScenarioFrames) -> list[tuple[Kind, str]]:
    """The kinds this run answers, in page order, each with its sentence."""
    found = [(kind, kind.sentence(frames)) for kind in KINDS]
    return [(kind, text) for kind, text in found if text is not None]


def scenario_charts(analysis: Analysis, out_dir: Path) -> list[Chart]:
    """Write the chart of every kind present into out_dir; their Chart records (section 'scenarios')."""
    frames = frames_of(analysis)
    drawn = [kind.draw(frames, Path(out_dir)) for kind, _ in present(frames)]
    return [c for c in drawn if c is not None]


@dataclass(frozen=True)
class ScenarioView:
    """One kind as the page shows it: heading, sentence, its chart (a ChartView of the report, or None)."""

    key: str
    heading: str
    sentence: str
    chart: Any  # analysis.report.ChartView | None (typed loosely: the report module imports this one)
    table: Table


def scenario_views(analysis: Analysis, charts: Sequence[Any]) -> list[ScenarioView]:
    """Each kind present, with the chart written for it found by its file name among the report's charts."""
    frames = frames_of(analysis)
    by_file = {c.file: c for c in charts if c.section == SECTION}
    return [ScenarioView(kind.key, kind.heading, text, by_file.get(kind.file), kind.table(frames))
            for kind, text in present(frames)]
