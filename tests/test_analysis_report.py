"""What analysis writes from one Analysis: summary.csv and aggregate.csv, the HTML report (failures
first), the terminal's problem lines; and that a whole report aggregates (bootstraps) only once.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis import stats
from analysis.analyze import analyze
from analysis.columns import AGG_COLUMNS, INTERVAL_COLUMNS, SATURATION_COLUMNS, SUMMARY_COLUMNS
from analysis.flags import FLAG_RULES
from analysis.problems import problem_lines
from analysis.report import build_report, write_report
from analysis.saturation import NOTE_NO_LEVEL, NOTE_NOT_REACHED
from analysis.tables import write_tables
from golden_runs import GOLDEN, PNG_MAGIC, SWEEP, copy_run


@pytest.fixture
def run_copy(tmp_path: Path) -> Path:
    return copy_run(GOLDEN, tmp_path)


def charts_embedded(html: str, run: Path) -> int:
    """How many charts the page embeds, checking that each PNG written into report/ is one of them, shown as a
    data URI or inline SVG (analysis.charts decides which charts there are)."""
    pngs = sorted(p.name for p in (run / "report").glob("*.png"))
    figures = re.findall(r'<figure class="chart" data-file="([^"]+)">\s*(<img src="data:image/png;base64,'
                         r'[A-Za-z0-9+/=]+"|<svg)', html)
    assert sorted(name for name, _ in figures) == pngs
    return len(figures)


# -- the tables --------------------------------------------------------------------

def test_write_tables(run_copy):
    path = write_tables(analyze(run_copy))
    assert path == run_copy / "summary.csv"
    back = pd.read_csv(path)
    assert list(back.columns) == SUMMARY_COLUMNS
    assert len(back) == 11
    assert not list(run_copy.glob(".summary*"))  # temp file replaced, not left behind
    assert back.loc[back["stack"] == "fastapi-uvicorn", "requests"].item() == 12000
    uwsgi = back[back["stack"] == "flask-uwsgi"].iloc[0]
    assert bool(uwsgi["starved"]) is True and uwsgi["starved_users"] == 7
    sync_ok = back[(back["stack"] == "flask-gunicorn-sync") & (back["repeat"] == 0)].iloc[0]
    assert pd.isna(sync_ok["starved"])  # no "users" block: unknown, written as an empty field
    agg = pd.read_csv(run_copy / "aggregate.csv")
    assert list(agg.columns) == AGG_COLUMNS
    assert len(agg) == 6  # one row per stack with an ok cell
    assert agg.loc[agg["stack"] == "fastapi-hypercorn", "n"].item() == 3
    assert not (run_copy / "saturation.csv").exists()  # the golden run has one concurrency level


# -- report -------------------------------------------------------------------

def test_write_report_self_contained(run_copy):
    index = write_report(analyze(run_copy))
    assert index == run_copy / "report" / "index.html"
    html = index.read_text(encoding="utf-8")
    for stack in ("fastapi-uvicorn", "flask-gunicorn-sync", "django-wsgi-uwsgi"):
        assert stack in html
    assert "20261122-194000" in html
    assert charts_embedded(html, run_copy) >= 4
    assert not re.search(r'(src|href)\s*=\s*["\']?\s*https?://', html, re.I)
    assert html.lower().count("<script") == 1 and "<script>" in html  # one inline script, nothing loaded
    assert "server exited with code -9" in html  # failed cell and reason
    assert "content-type" in html and "text/html; charset=utf-8" in html  # verify finding
    assert "generator-bound" in html
    assert "3f5c9e1d2b7a48c6e0f1a2b3c4d5e6f708192a3b" in html
    for flag in FLAG_RULES:  # a legend line for every flag, with its threshold, stalled included
        assert f'<span class="flag">{flag}</span></th>' in html, flag
    assert "no request completed for 0.5 s or more" in html
    assert "Locust used 90% or more" in html and "[0.8, 1.25]" in html and "wider than 20%" in html
    assert "1,500–2,900" in html  # the noisy stack's rps interval
    assert "≈ next" in html
    assert "1–3 repeats finished ok" in html
    # steadiness: median CV over the 2 stacks with repeats, CPU/request 2.2 %, throughput 17.1 %
    assert "2.2% for CPU per request and 17.1% for throughput" in html
    assert (run_copy / "aggregate.csv").is_file()
    for name in ("throughput.png", "latency.png", "cpu_per_request.png", "memory.png"):
        assert (run_copy / "report" / name).read_bytes().startswith(PNG_MAGIC)
    assert (run_copy / "summary.csv").is_file()


def test_report_escapes_raw_text(run_copy):
    stack_json = run_copy / "stacks" / "django-wsgi-uwsgi" / "stack.json"
    spec = json.loads(stack_json.read_text())
    spec["verify"]["findings"][0]["actual"] = "<script>alert(1)</script>"
    stack_json.write_text(json.dumps(spec))
    html = build_report(run_copy).read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html


def test_report_with_no_ok_cells_still_renders(run_copy):
    for cell_json in run_copy.glob("stacks/*/*/cell.json"):
        if json.loads(cell_json.read_text())["status"] == "ok":
            cell_json.unlink()
    html = build_report(run_copy).read_text(encoding="utf-8")
    assert "nothing to rank" in html
    assert html.index("server exited with code -9") < html.index("nothing to rank")
    assert charts_embedded(html, run_copy) >= 4


def test_sweep_report_has_saturation_table_and_chart(tmp_path):
    run = copy_run(SWEEP, tmp_path)
    html = build_report(run).read_text(encoding="utf-8")
    back = pd.read_csv(run / "saturation.csv")
    assert list(back.columns) == SATURATION_COLUMNS and len(back) == 4
    assert (run / "report" / "sweep.png").read_bytes().startswith(PNG_MAGIC)
    assert charts_embedded(html, run) >= 5 and 'data-file="sweep.png"' in html
    assert "Saturation (concurrency sweep)" in html and NOTE_NOT_REACHED in html and NOTE_NO_LEVEL in html
    assert "Open model (fixed arrival rate)" in html and "≤64 in flight" in html
    summary = pd.read_csv(run / "summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS
    open_rows = summary[summary["scenario"] == "open-json"]
    assert list(open_rows["missed"]) == [10, 0] and list(open_rows["offered_rps"]) == [500.0, 500.0]


def test_summary_rows_carry_their_groups_interval(run_copy):
    """Every repeat row of a group shows the same 95% interval as aggregate.csv; one-repeat groups have none."""
    analysis = analyze(run_copy)
    back = pd.read_csv(write_tables(analysis))
    agg = analysis.aggregate
    multi = agg[agg["n"] >= 2].iloc[0]
    rows = back[(back["stack"] == multi["stack"]) & (back["scenario"] == multi["scenario"])
                & (back["concurrency"] == multi["concurrency"])]
    assert len(rows) >= 2
    for col in INTERVAL_COLUMNS:
        assert rows[col].nunique() == 1 and rows[col].iloc[0] == pytest.approx(multi[col])
    single = agg[agg["n"] == 1].iloc[0]
    row = back[(back["stack"] == single["stack"]) & (back["scenario"] == single["scenario"])].iloc[0]
    assert math.isnan(row["rps_lo"]) and math.isnan(row["cpu_us_per_req_hi"])


# -- what failed comes first --------------------------------------------------------------

def test_report_starts_with_what_failed(run_copy):
    html = build_report(run_copy).read_text(encoding="utf-8")
    first = html.index('<section id="missing">')
    ranking = html.index('<section id="answers">')
    assert first < ranking
    for what in ("verify failed (not measured)", "django-wsgi-uwsgi", "server exited with code -9",
                 "Stalled cells", "no request completed for 1.7 s of the 3 s window"):
        assert first < html.index(what) < ranking, what


def test_report_says_when_nothing_failed(tmp_path):
    run = copy_run(GOLDEN, tmp_path)
    for stack in ("django-wsgi-uwsgi", "flask-gunicorn-sync", "django-asgi-uvicorn"):  # failed, stalled
        shutil.rmtree(run / "stacks" / stack)
    meta = json.loads((run / "run.json").read_text())
    meta["stacks"] = [s for s in meta["stacks"] if (run / "stacks" / s).is_dir()]
    (run / "run.json").write_text(json.dumps(meta))
    html = build_report(run).read_text(encoding="utf-8")
    assert "Nothing failed" in html and "Failed cells" not in html and "Stalled cells" not in html


def test_problem_lines_for_the_terminal():
    lines = problem_lines(analyze(GOLDEN))
    assert lines == [
        "django-wsgi-uwsgi: verify failed (not measured): responses did not match the scenario's expected output",
        "flask-gunicorn-sync json c8 r1: failed: server exited with code -9",
        "django-asgi-uvicorn json c8 r0: stalled: no request completed for 1.7 s of the 3 s window "
        "(median latency 7 ms)",
    ]


# -- computed once ------------------------------------------------------------------------

@pytest.fixture
def bootstraps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of the bootstrap (two per aggregate group) from here on."""
    calls: list[int] = []
    bootstrap = stats.bootstrap_median_interval

    def counted(*args: Any, **kwargs: Any) -> tuple[float, float]:
        calls.append(1)
        return bootstrap(*args, **kwargs)

    monkeypatch.setattr(stats, "bootstrap_median_interval", counted)
    return calls


def test_a_whole_report_aggregates_once(run_copy, bootstraps):
    """Two bootstraps per (stack, scenario, endpoint, concurrency) group, and no more, for the tables,
    the charts, the report and the ranking together (it was about 19 aggregates per report)."""
    analysis = analyze(run_copy)
    write_report(analysis)
    assert not analysis.ranking.empty and analysis.steadiness.groups == 2
    assert len(analysis.aggregate) == 6 and len(bootstraps) == 6 * 2


def test_a_sweep_report_aggregates_once(tmp_path, bootstraps):
    analysis = analyze(copy_run(SWEEP, tmp_path))
    write_report(analysis)
    assert not analysis.saturation.empty and len(bootstraps) == len(analysis.aggregate) * 2


def test_report_lists_each_stack_as_it_ran(run_copy):
    """Configuration, its hash and the command line per stack: a tuned and a one-worker number of one id differ."""
    record_path = run_copy / "stacks" / "django-asgi-uvicorn" / "stack.json"
    record = json.loads(record_path.read_text())
    record.update(configuration="tuned", config_hash="0123456789ab")
    record_path.write_text(json.dumps(record))
    html = build_report(run_copy).read_text(encoding="utf-8")
    section = html.split('<section id="stacks">', 1)[1].split("</section>", 1)[0]

    def details(stack: str) -> str:
        return section.split(f'<details class="stack" id="stack-{stack}">', 1)[1].split("</details>", 1)[0]

    row = details("django-asgi-uvicorn")
    assert "<code>tuned</code>" in row and "0123456789ab" in row
    assert "apps.django_app.asgi:application --host 127.0.0.1" in row
    # a stack.json from before configurations existed reads as default
    assert "<th>configuration</th><td><code>default</code>" in details("django-wsgi-uwsgi")
