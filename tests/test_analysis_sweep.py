"""analysis on tests/data/run-sweep: the open model's columns, and saturation over a concurrency sweep."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.aggregate import aggregate
from analysis.columns import SATURATION_COLUMNS
from analysis.ranking import rank
from analysis.saturation import NOTE_NO_LEVEL, NOTE_NOT_REACHED, saturation
from analysis.tidy import tidy_frame
from golden_runs import GOLDEN, SWEEP, cell_row, golden_thresholds  # noqa: F401  (an autouse fixture)


@pytest.fixture(scope="module")
def sweep_df() -> pd.DataFrame:
    return tidy_frame(SWEEP)


def saturation_of(df: pd.DataFrame, **slo: float) -> pd.DataFrame:
    """saturation() of a tidy frame (one built by hand here), as analyze computes it for a run."""
    agg = aggregate(df)
    return saturation(agg, rank(agg), **slo)


def test_open_model_columns(sweep_df):
    r = cell_row(sweep_df, "fastapi-uvicorn", "open-json", 64)
    assert (r.offered_rps, r.missed, r.late) == (500.0, 10, 4)
    assert r.requests == 1488 and r.rps == 496.0
    # concurrency is a cap on requests in flight, not users: Little's law has nothing to check
    assert math.isnan(r.littles_ratio) and r.littles_off is pd.NA
    assert r.starved == False  # noqa: E712  the one sending user completed requests
    closed = cell_row(sweep_df, "fastapi-uvicorn", "json", 8)
    assert math.isnan(closed.offered_rps) and closed.missed is pd.NA and closed.late is pd.NA
    agg = aggregate(sweep_df)
    assert list(agg.columns[-14:-10]) == ["offered_rps", "missed", "late", "other_load_pct"]  # then stall, unsaturated,
    # then the scenario columns
    open_agg = agg[(agg["scenario"] == "open-json") & (agg["concurrency"] == 128)].iloc[0]
    assert (open_agg["offered_rps"], open_agg["missed"], open_agg["late"]) == (500.0, 0.0, 0.0)


def test_old_golden_has_no_open_numbers():
    df = tidy_frame(GOLDEN)
    assert df["offered_rps"].isna().all() and df["missed"].isna().all() and df["late"].isna().all()


def test_saturation_on_the_sweep(sweep_df):
    table = saturation_of(sweep_df)
    assert list(table.columns) == SATURATION_COLUMNS
    sat = table.set_index("stack")
    assert list(sat.index) == ["django-asgi-uvicorn", "fastapi-uvicorn", "flask-gunicorn-gthread",
                               "flask-gunicorn-sync"]  # open-json (a cap on in-flight, not users) left out
    assert set(sat["scenario"]) == {"json"} and (sat["levels"] == 3).all() and (sat["max_tested"] == 32).all()
    # p99 2.5 / 5 / 150 ms: c32 breaks the 100 ms SLO, c16 (4500) beats c8 (3000); Locust was the limit there
    fast = sat.loc["fastapi-uvicorn"]
    assert (fast["concurrency"], fast["rps"], fast["p99_ms"]) == (16, 4500.0, 5.0)
    assert fast["flags"] == "generator-bound" and fast["note"] == ""
    # c32 has the most req/s within the SLO but 2 % errors
    gthread = sat.loc["flask-gunicorn-gthread"]
    assert (gthread["concurrency"], gthread["rps"], gthread["p99_ms"]) == (16, 1600.0, 60.0)
    assert gthread["note"] == ""
    # still climbing at the highest level tested
    sync = sat.loc["flask-gunicorn-sync"]
    assert (sync["concurrency"], sync["rps"], sync["p99_ms"], sync["error_pct"]) == (32, 1800.0, 80.0, 0.5)
    assert sync["note"] == NOTE_NOT_REACHED
    # p99 120 / 250 / 400 ms: nothing within 100 ms
    django = sat.loc["django-asgi-uvicorn"]
    assert django["concurrency"] is pd.NA and pd.isna(django["rps"]) and django["note"] == NOTE_NO_LEVEL


def test_saturation_thresholds_are_parameters(sweep_df):
    sat = saturation_of(sweep_df, slo_p99_ms=200.0, max_error_pct=5.0).set_index("stack")
    assert (sat.loc["fastapi-uvicorn", "concurrency"], sat.loc["fastapi-uvicorn", "rps"]) == (32, 4800.0)
    assert sat.loc["fastapi-uvicorn", "note"] == NOTE_NOT_REACHED
    assert (sat.loc["flask-gunicorn-gthread", "concurrency"], sat.loc["flask-gunicorn-gthread", "rps"]) == (32, 1700.0)
    assert sat.loc["django-asgi-uvicorn", "concurrency"] == 8  # 120 ms <= 200 ms; 250 and 400 are not
    assert (sat["slo_p99_ms"] == 200.0).all() and (sat["max_error_pct"] == 5.0).all()


def test_saturation_uses_medians_over_repeats(sweep_df):
    extra = cell_row(sweep_df, "fastapi-uvicorn", "json", 8).copy()
    extra["repeat"], extra["rps"] = 1, 6000.0
    third = extra.copy()
    third["repeat"], third["rps"] = 2, 6200.0
    sat = saturation_of(pd.concat([sweep_df, extra.to_frame().T, third.to_frame().T], ignore_index=True))
    fast = sat.set_index("stack").loc["fastapi-uvicorn"]
    assert (fast["concurrency"], fast["rps"]) == (8, 6000.0)  # median of 3000, 6000, 6200 beats c16's 4500
