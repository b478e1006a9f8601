"""History as pictures: one PNG per metric across runs, and one self-contained HTML page embedding them.

Each chart draws one line per stack x scenario x concurrency over the runs in
time order (ticks name each run's commit), hollow points where the run's
number was flagged, and a dashed mark where analysis.history found a step,
so a step is never read off a line by eye alone. Nothing is computed here
that the frame and the steps do not already hold.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from analysis.charts import PALETTE, _save
from analysis.columns import Record
from analysis.history import METRIC_INFO, SERIES_KEYS, STEP_METHOD, describe_step, format_value
from analysis.report import TEMPLATES, _data_uri
from runformat import atomic

INDEX_HTML = "index.html"
MAX_TICKS = 40  # beyond this many runs, label every k-th run only


def series_label(key: Sequence[Any]) -> str:
    stack, scenario, _endpoint, concurrency = key
    return f"{stack} {scenario} c{concurrency}"


def _tick_positions(runs: int) -> list[int]:
    step = max(1, -(-runs // MAX_TICKS))
    return list(range(0, runs, step))


def _steps_of(steps: pd.DataFrame, metric: str, key: Sequence[Any]) -> list[Record]:
    """The steps found in one series of one metric."""
    wanted = [str(k) for k in key]
    return [s for s in steps.to_dict("records")
            if s["metric"] == metric and [str(s[k]) for k in SERIES_KEYS] == wanted]


def history_chart(frame: pd.DataFrame, steps: pd.DataFrame, metric: str, path: Path) -> Path:
    """One metric across runs: a line per series, hollow where flagged, a dashed mark at each step."""
    import matplotlib.pyplot as plt  # after analysis.charts, which selects the file-only backend

    what = METRIC_INFO[metric][0]
    runs = frame.drop_duplicates("run").sort_values("run")
    fig, ax = plt.subplots(figsize=(11, 5.5))
    known = frame.dropna(subset=[metric])
    for i, (key, series) in enumerate(known.groupby(SERIES_KEYS, sort=True)):
        color = PALETTE[i % len(PALETTE)]
        series = series.sort_values("run")
        flagged = series["flags"].astype(str) != ""
        ax.plot(series["run"], series[metric], color=color, linewidth=1.4, label=series_label(key))
        ax.scatter(series.loc[~flagged, "run"], series.loc[~flagged, metric], color=color, s=18, zorder=3)
        ax.scatter(series.loc[flagged, "run"], series.loc[flagged, metric], facecolors="white",
                   edgecolors=[color], s=22, zorder=3)
        for step in _steps_of(steps, metric, key):
            ax.axvline(step["run"] - 0.5, color=color, linestyle="--", linewidth=1.1, alpha=0.8)
            ax.annotate(describe_step(step), (step["run"] - 0.5, step["after"]), xytext=(4, 6),
                        textcoords="offset points", fontsize=7, color=color)
    ticks = _tick_positions(len(runs))
    labels = runs["commit"].tolist()
    ax.set_xticks(ticks, [labels[t] for t in ticks], rotation=60, ha="right", fontsize=7)
    ax.set_xlim(-0.5, max(len(runs) - 0.5, 0.5))
    ax.set_ylim(bottom=max(ax.get_ylim()[0], 0.0))  # every metric here is 0 or more
    ax.set_ylabel(what)
    ax.set_xlabel("run, oldest first, named by commit ('+': uncommitted changes); hollow point: flagged; "
                  "dashed line: step change", fontsize=8)
    ax.set_title(f"{what}: median over each run's ok repeats", fontsize=10, loc="left")
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)
    if not known.empty:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


def write_history_charts(frame: pd.DataFrame, steps: pd.DataFrame, metrics: Sequence[str],
                         out_dir: Path) -> list[Path]:
    """history-<metric>.png per metric in out_dir; returns their paths in metric order."""
    return [history_chart(frame, steps, m, Path(out_dir) / f"history-{m}.png") for m in metrics]


def _when(ts: float) -> str:
    return datetime.fromtimestamp(float(ts), timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _step_rows(steps: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"stack": r["stack"], "scenario": r["scenario"], "concurrency": r["concurrency"],
             "metric": METRIC_INFO[r["metric"]][0], "commit": r["commit"], "run_id": r["run_id"],
             "before": format_value(r["metric"], r["before"]), "after": format_value(r["metric"], r["after"]),
             "change": describe_step(r)}
            for r in steps.sort_values(["run", "stack", "metric"], kind="stable").to_dict("records")]


def render_history_page(frame: pd.DataFrame, steps: pd.DataFrame, charts: Sequence[Path], source: Path) -> str:
    """The page's HTML text: the steps found, the charts (as data URIs), the runs with their machines."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    runs = frame.drop_duplicates("run").sort_values("run")
    return env.get_template("history.html.j2").render(
        source=str(source),
        series=int(frame.drop_duplicates(SERIES_KEYS).shape[0]),
        runs=[{"run_id": r["run_id"], "when": _when(r["time"]), "commit": r["commit"], "host": r["host"]}
              for r in runs.to_dict("records")],
        hosts=sorted(set(runs["host"])),
        steps=_step_rows(steps),
        method=STEP_METHOD,
        charts=[{"title": METRIC_INFO[p.stem.removeprefix("history-")][0], "src": _data_uri(p)} for p in charts],
    )


def write_history_page(frame: pd.DataFrame, steps: pd.DataFrame, metrics: Sequence[str], out_dir: Path,
                       source: Path) -> Path:
    """The PNGs and index.html (self-contained: the PNGs embedded) in out_dir; returns index.html's path."""
    charts = write_history_charts(frame, steps, metrics, out_dir)
    return atomic.write_text(Path(out_dir) / INDEX_HTML, render_history_page(frame, steps, charts, source))
