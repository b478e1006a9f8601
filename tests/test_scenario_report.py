"""The report's "What the scenarios answer": each kind's chart, its one-sentence answer computed from the
frames, its figures table, and the section on the page only when the run has scenario data.

Pure units on synthetic frames built from the column lists (analysis.columns); the page test adds them to
the golden run's Analysis. The real scenarios on real stacks are the lead's end-to-end test.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis import chart_output, chart_scenarios
from analysis.analyze import Analysis, analyze
from analysis.columns import (
    AGG_COLUMNS,
    ENDPOINT_COLUMNS,
    FIGURE_COLUMNS,
    SCALING_COLUMNS,
    SERIES_COLUMNS,
    STAGE_COLUMNS,
)
from analysis.report import csv_links, render_report, report_charts
from analysis.scenario_cells import ScenarioFrames
from analysis.scenario_section import KINDS, present, scenario_views
from analysis.scenario_text import io_sentence, mix_sentence, open_sentence, payload_sentence, scaling_sentence
from analysis.scenario_text_shapes import ramp_sentence, soak_sentence, spike_sentence
from golden_runs import GOLDEN, PNG_MAGIC, copy_run, golden_thresholds  # noqa: F401  (the fixture applies here)

ASYNC, SYNC = "fastapi-uvicorn", "flask-gunicorn-sync"
INTERFACE = {ASYNC: "asgi", SYNC: "wsgi"}


def frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def agg_row(stack: str, scenario: str, endpoint: str, conc: int, n: int = 1, **values: Any) -> dict[str, Any]:
    return {"stack": stack, "scenario": scenario, "endpoint": endpoint, "concurrency": conc, "n": n,
            "framework": stack.split("-")[0], "server": stack.split("-")[1], "worker": "", **values,
            "interface": INTERFACE[stack]}


def io_aggregate(async_rps: float = 4900.0, sync_rps: float = 54.0, n: int = 1) -> list[dict[str, Any]]:
    rows = []
    for conc in (256, 512):
        ideal = conc * 1000 / 100
        for stack, rps in ((ASYNC, async_rps * conc / 512), (SYNC, sync_rps)):
            rows.append(agg_row(stack, "io-bound-100ms", "/io?ms=100", conc, n, rps=rps, ideal_rps=ideal,
                                p99_ms=110.0))
    return rows


def cell(stack: str, scenario: str, conc: int) -> dict[str, Any]:
    return {"stack": stack, "scenario": scenario, "concurrency": conc, "repeat": 0}


def fig_rows(stack: str, scenario: str, conc: int, **values: float | None) -> list[dict[str, Any]]:
    return [{**cell(stack, scenario, conc), "figure": k, "value": v, "unit": "", "note": None}
            for k, v in values.items()]


def ramp_frames(stack: str, knee: int | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    stages = [{**cell(stack, "ramp", 64), "stage": f"step-{i + 1}", "index": i + 1, "users": u, "start_s": i * 2.0,
               "duration_s": 2.0, "requests": 100 * u, "errors": 0, "error_pct": 0.0, "rps": 50.0 * u,
               "p50_ms": 2.0 * u, "p99_ms": 4.0 * u} for i, u in enumerate((8, 16, 32, 64))]
    figures = fig_rows(stack, "ramp", 64, capacity_rps=3200.0, knee_users=knee, knee_rps=50.0 * knee if knee else None,
                       knee_p99_ms=4.0 * knee if knee else None, p99_at_80pct_ms=120.0, slo_p99_ms=100.0,
                       steps_run=4)
    return stages, figures


def spike_frames(stack: str, recovery: float | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                              list[dict[str, Any]]]:
    base = cell(stack, "spike", 16)
    stages = [{**base, "stage": name, "index": i + 1, "users": users, "start_s": start, "duration_s": length,
               "requests": 1000, "errors": 10 if name == "spike" else 0, "error_pct": 1.0 if name == "spike" else 0,
               "rps": 500.0, "p50_ms": 5.0, "p99_ms": 9.0}
              for i, (name, users, start, length) in enumerate((("before", 16, 0, 3), ("spike", 160, 3, 2),
                                                                 ("after", 16, 5, 5)))]
    series = [{**base, "t_s": float(t), "completed": 500, "failures": 0, "rps": 500.0, "p50_ms": 5.0,
               "p99_ms": 80.0 if 3 <= t < 6 else 9.0, "rss_mb": 40.0} for t in range(10)]
    figures = fig_rows(stack, "spike", 16, before_p99_ms=9.0, spike_p99_ms=80.0, after_p99_ms=10.0, spike_errors=10,
                       spike_error_pct=1.0, recovery_s=recovery)
    return stages, series, figures


def soak_frames(stack: str, slope: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    base = cell(stack, "soak", 8)
    series = [{**base, "t_s": float(t), "completed": 100, "failures": 0, "rps": 100.0, "p50_ms": 3.0, "p99_ms": 9.0,
               "rss_mb": 40.0 + t * slope / 3600} for t in range(12)]
    figures = fig_rows(stack, "soak", 8, rss_mb_per_h=slope, rss_mb_per_h_per_worker=slope, rps_drift_pct_per_h=-2.0,
                       error_drift_pts_per_h=0.0, rss_start_mb=40.0, rss_end_mb=40.0 + 11 * slope / 3600)
    return series, figures


def mix_endpoints() -> list[dict[str, Any]]:
    shares = {"/json": 55.0, "/db": 27.0, "/fortunes": 9.0, "/echo": 9.0}
    return [{**cell(stack, "mix", 32), "name": name, "requests": 100, "errors": 0, "error_pct": 0.0, "rps": share * 10,
             "share_pct": share, "p50_ms": 3.0, "p99_ms": p99 * (i + 1)}
            for stack, p99 in ((ASYNC, 10.0), (SYNC, 20.0)) for i, (name, share) in enumerate(shares.items())]


def all_frames() -> ScenarioFrames:
    """Every kind present: io, mix, ramp, spike, soak, payload, open model, worker scaling."""
    aggregate = io_aggregate() + [agg_row(ASYNC, "mix", "/json", 32, rps=900.0, p99_ms=35.0),
                                  agg_row(SYNC, "mix", "/json", 32, rps=400.0, p99_ms=70.0)]
    aggregate += [agg_row(stack, f"payload-{kb}k", f"/stream?kb={kb}", 32, rps=rps / kb, mb_per_s=rps * 1.024 / 1000,
                          p99_ms=5.0) for stack, rps in ((ASYNC, 5000.0), (SYNC, 2000.0)) for kb in (1, 10, 100)]
    aggregate += [agg_row(stack, "open-json", "/json", 64, rps=200.0, p50_ms=2.0, p90_ms=4.0, p99_ms=p99,
                          co_p50_ms=2.5, co_p90_ms=9.0, co_p99_ms=p99 * 4)
                  for stack, p99 in ((ASYNC, 8.0), (SYNC, 30.0))]
    ramp_st, ramp_fig = ramp_frames(ASYNC, 32)
    spike_st, spike_se, spike_fig = spike_frames(ASYNC, 2.0)
    soak_se, soak_fig = soak_frames(SYNC, 12.0)
    scaling = [{"scenario": "json", "concurrency": 32, "base": f"{ASYNC}-w1", "stack": f"{ASYNC}-w{w}", "workers": w,
                "rps": 3000.0 * w * eff, "rps_one": 3000.0, "efficiency": eff, "cpu_us_per_req": 80.0,
                "server_cpus": 2} for w, eff in ((1, 1.0), (2, 0.85))]
    return ScenarioFrames(frame(aggregate, AGG_COLUMNS), frame(ramp_fig + spike_fig + soak_fig, FIGURE_COLUMNS),
                          frame(ramp_st + spike_st, STAGE_COLUMNS), frame(mix_endpoints(), ENDPOINT_COLUMNS),
                          frame(spike_se + soak_se, SERIES_COLUMNS), frame(scaling, SCALING_COLUMNS))


@pytest.fixture(scope="module")
def frames() -> ScenarioFrames:
    return all_frames()


def test_every_kind_draws_a_png_in_the_scenario_section(frames, tmp_path):
    for kind in KINDS:
        chart = kind.draw(frames, tmp_path)
        assert chart is not None, kind.key
        assert chart.file == kind.file and chart.section == "scenarios" and chart.caption
        assert (tmp_path / chart.file).read_bytes().startswith(PNG_MAGIC), kind.key


def test_no_kind_draws_or_answers_without_its_cells(tmp_path):
    empty = ScenarioFrames.empty()
    for kind in KINDS:
        assert kind.draw(empty, tmp_path) is None, kind.key
        assert kind.sentence(empty) is None, kind.key
    assert list(tmp_path.iterdir()) == []
    assert present(empty) == []


def test_kinds_are_found_by_their_data_not_their_names(frames):
    """Renamed scenarios keep their answers: an /io?ms=N endpoint, a ramp's figures, ... decide the kind."""
    renamed = ScenarioFrames(*(f.assign(scenario="mine-" + f["scenario"].astype(str))  # type: ignore[arg-type]
                               if f is not None and "scenario" in f else f for f in dataclasses.astuple(frames)))
    assert [k.key for k, _ in present(renamed)] == [k.key for k in KINDS]
    only_json = dataclasses.replace(frames, aggregate=frames.aggregate.assign(endpoint="/json"))
    assert io_sentence(only_json) is None and payload_sentence(only_json) is None


def test_the_io_chart_draws_the_ideal(frames, tmp_path, monkeypatch):
    drawn: list[Figure] = []
    real = chart_output.finish

    def keep(fig: Figure, path: Path, svg: bool = True) -> str | None:
        drawn.append(fig)
        return real(fig, path, svg)

    monkeypatch.setattr(chart_output, "finish", keep)
    assert chart_scenarios.io_chart(frames.aggregate, tmp_path) is not None
    lines = [ln for ax in drawn[0].axes for ln in ax.get_lines()]
    ideal = [np.asarray(ln.get_ydata(), dtype=float).tolist() for ln in lines if ln.get_linestyle() == "--"]
    assert ideal == [[2560.0, 5120.0]]
    assert len(lines) == 3  # one line per stack, and the ideal


def test_the_io_sentence_gives_each_interface_its_share_of_the_ideal(frames):
    text = io_sentence(frames) or ""
    assert text.startswith("At 512 users and 100 ms upstream (ideal 5,120 req/s), async (ASGI) stacks reached on "
                           "uvicorn 96% of the ideal; sync (WSGI) stacks on gunicorn 1.1%")
    assert text.endswith("(one run).") and "finished no cell" not in text
    slower = dataclasses.replace(frames, aggregate=pd.DataFrame(io_aggregate(async_rps=2560.0, n=3),
                                                                columns=AGG_COLUMNS))
    changed = io_sentence(slower)
    assert changed is not None and "reached on uvicorn 50%" in changed and "medians of 3 repeats" in changed
    # a stack whose every cell there failed (nothing completed in the window) is named, not silently left out
    failed = pd.DataFrame([{"stack": "flask-uwsgi", "endpoint": "/io?ms=100", "concurrency": 512, "status": "failed"},
                           {"stack": SYNC, "endpoint": "/io?ms=100", "concurrency": 512, "status": "ok"}])
    named = io_sentence(dataclasses.replace(frames, cells=failed)) or ""
    assert "1 stack(s) finished no cell there (flask-uwsgi" in named


def test_shape_sentences_follow_their_figures(frames):
    assert "the knee (the most users within it) was 32 users at 1,600 req/s on 1 of 1 stack" in (ramp_sentence(frames)
                                                                                                  or "")
    st, fig = ramp_frames(ASYNC, None)
    no_knee = dataclasses.replace(frames, figures=frame(fig, FIGURE_COLUMNS), stages=frame(st, STAGE_COLUMNS))
    assert "on 0 of 1 stack(s) (1 had no step within it)" in (ramp_sentence(no_knee) or "")
    st, fig = ramp_frames(ASYNC, 64)  # the top step (64 users) within the SLO: the knee is only bounded
    at_top = [{**r, "value": None} if r["figure"] == "p99_at_80pct_ms" else r for r in fig]
    bounded = dataclasses.replace(frames, figures=frame(at_top, FIGURE_COLUMNS), stages=frame(st, STAGE_COLUMNS))
    text = ramp_sentence(bounded) or ""
    assert "every step stayed within it, so their knee is at or above 64 users" in text
    assert "80% of it lay below the first step" in text and "at or above" not in (ramp_sentence(frames) or "")

    spike = spike_sentence(frames) or ""
    assert "(a spike from 16 to 160 users)" in spike and "9.0 ms before to 80.0 ms" in spike
    assert "2.0 s after it" in spike
    st, se, fig = spike_frames(ASYNC, None)
    stuck = dataclasses.replace(frames, figures=frame(fig, FIGURE_COLUMNS), stages=frame(st, STAGE_COLUMNS),
                                series=frame(se, SERIES_COLUMNS))
    assert "1 stack(s) not back within the window" in (spike_sentence(stuck) or "")

    soak = soak_sentence(frames) or ""
    assert "grew 12.0 MB/h per worker" in soak and "(a 12 s soak at 8 users)" in soak and "not a leak" in soak


def test_a_soak_of_the_mix_is_answered_as_a_soak_not_as_a_mix(frames):
    soak_cell = frames.endpoints.assign(scenario="soak", concurrency=8, stack=SYNC).drop_duplicates("name")
    both = dataclasses.replace(frames, endpoints=pd.concat([frames.endpoints, soak_cell], ignore_index=True))
    assert mix_sentence(both) == mix_sentence(frames)
    only_soak = dataclasses.replace(frames, endpoints=soak_cell.reset_index(drop=True))
    assert mix_sentence(only_soak) is None and soak_sentence(only_soak) is not None


def test_mix_payload_open_and_scaling_sentences(frames):
    mix = mix_sentence(frames) or ""
    assert "/db 20.0–40.0 ms" in mix and "all requests together 35.0–70.0 ms at 400–900 req/s" in mix
    assert "1 KB responses moved" in (payload_sentence(frames) or "")
    assert "p99 was 32.0–120.0 ms against 8.0–30.0 ms" in (open_sentence(frames) or "")
    assert scaling_sentence(frames) == ("On 2 server core(s), across 1 stack(s) measured at several worker counts, "
                                        "at 2 workers they reached 85% of 2 x their one-worker req/s "
                                        "(scaling efficiency).")


def test_each_kind_has_its_figures_table(frames):
    views = {v.key: v for v in scenario_views_of(frames)}
    ramp = views["ramp"].table
    knee = ramp.headers.index("knee users")
    assert ramp.rows[0][:3] == [ASYNC, "ramp", "64"] and ramp.rows[0][knee] == "32"
    assert ramp.numeric[:4] == [False, False, True, True]
    assert len(views["mix"].table.rows) == 8  # 2 stacks x 4 endpoints


def scenario_views_of(frames: ScenarioFrames) -> list[Any]:
    """scenario_views on an Analysis-like object carrying the frames (no charts)."""
    names = ["aggregate", "figures", "stages", "endpoints", "series", "scaling", "frame"]  # the Analysis fields read
    holder = dataclasses.make_dataclass("Holder", [(name, object) for name in names])
    values = dataclasses.astuple(frames)  # the ScenarioFrames fields, `cells` (the tidy frame) last
    return scenario_views(holder(*values), [])  # type: ignore[arg-type]


def with_scenarios(analysis: Analysis, frames: ScenarioFrames) -> Analysis:
    """The golden run's Analysis with scenario tables added (its aggregate kept: the rest of the page reads it)."""
    return dataclasses.replace(analysis, figures=frames.figures, stages=frames.stages, endpoints=frames.endpoints,
                               series=frames.series, scaling=frames.scaling)


def test_the_page_has_the_section_with_its_charts_only_when_there_are_scenarios(frames, tmp_path):
    golden = analyze(GOLDEN)
    plain = render_report(golden, report_charts(golden, tmp_path / "plain"))
    assert 'id="scenarios"' not in plain and "#scenarios" not in plain

    rich = with_scenarios(golden, frames)
    html = render_report(rich, report_charts(rich, tmp_path / "rich"))
    sections = re.findall(r'<section id="([^"]+)"', html)
    assert sections.index("grid") < sections.index("scenarios") < sections.index("charts")
    part = html[html.index('<section id="scenarios"'):html.index('<section id="charts"')]
    kinds = re.findall(r'data-kind="([^"]+)"', part)
    assert kinds == ["mix", "ramp", "spike", "soak", "scaling"]  # the golden aggregate has no io/payload/open cells
    files = re.findall(r'<figure class="chart" data-file="([^"]+)">\s*<img src="data:image/png;base64,', part)
    assert files == ["scenario-mix.png", "scenario-ramp.png", "scenario-spike.png", "scenario-soak.png",
                     "scaling.png"]
    assert "the knee (the most users within it) was 32 users" in part
    assert "scenario-ramp.png" not in html[html.index('<section id="charts"'):]


def test_companion_tables_are_linked_only_when_the_run_folder_has_them(tmp_path):
    run = copy_run(GOLDEN, tmp_path)
    assert not any(name.startswith(("figures", "stages", "endpoints", "series", "scaling"))
                   for name in csv_links(analyze(run)))
    (run / "figures.csv").write_text("stack\n")
    (run / "scaling.csv").write_text("scenario\n")
    links = csv_links(analyze(run))
    assert links[-2:] == ["figures.csv", "scaling.csv"] and "stages.csv" not in links
