"""The regression gate's pure parts: the statistics, the verdict rules, the thresholds file.

Stored runs, baselines and the outputs: tests/test_compare_runs.py; the command line: tests/test_compare_cli.py.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from analysis.compare import IMPROVEMENT, INCONCLUSIVE, NO_CHANGE, REGRESSION, RULES, Side, evidence, judge
from analysis.compare_sample import raised_flags
from analysis.compare_stats import change_interval, one_sided_p, repeats_needed, smallest_p
from analysis.flags import FLAG_RULES
from analysis.thresholds import (
    BLOCKING_FLAGS,
    METRICS,
    Thresholds,
    ThresholdsError,
    load_thresholds,
    parse_thresholds,
)

REPO = Path(__file__).resolve().parent.parent
BASE = (100.0, 101.0, 99.0, 100.5, 99.5)


def scaled(values: tuple[float, ...], factor: float) -> tuple[float, ...]:
    return tuple(v * factor for v in values)


def verdict(metric: str, base: tuple[float, ...], current: tuple[float, ...], *, base_flags: tuple[str, ...] = (),
            flags: tuple[str, ...] = (), failed: tuple[tuple[int, str], ...] = (), base_failed: tuple = (),
            nothing: str | None = None, base_nothing: str | None = None,
            thresholds: Thresholds | None = None) -> tuple[str, str]:
    e = evidence("s", METRICS[metric], Side(base, base_failed, base_flags, base_nothing),
                 Side(current, failed, flags, nothing), thresholds or Thresholds())
    return judge(e)


# --- statistics -----------------------------------------------------------------------------------------

def test_smallest_p_is_one_over_the_number_of_splits() -> None:
    assert smallest_p(1, 1) == 0.5
    assert smallest_p(3, 3) == pytest.approx(0.05)
    assert smallest_p(5, 5) == pytest.approx(1 / 252)
    assert smallest_p(0, 5) == 1.0
    assert repeats_needed(0.05) == 3  # 1 / C(6, 3) = 0.05
    assert repeats_needed(0.01) == 5  # 1 / C(8, 4) = 0.014 is not enough, 1 / C(10, 5) = 0.004 is


def test_one_sided_mann_whitney_exact_and_with_ties() -> None:
    higher = scaled(BASE, 1.2)
    assert one_sided_p(higher, BASE, greater=True) == pytest.approx(1 / 252)  # every current value above
    assert one_sided_p(higher, BASE, greater=False) == pytest.approx(1.0)
    assert one_sided_p(BASE, BASE, greater=True) == pytest.approx(0.5, abs=0.1)
    # ties (error_pct's zeros): an exact permutation test, not the normal approximation
    assert one_sided_p((0, 0, 0, 0, 1), (0, 0, 0, 0, 0), greater=True) == pytest.approx(0.5)
    assert one_sided_p((0, 0, 0), (0, 0, 0), greater=True) == 1.0
    assert math.isnan(one_sided_p((), BASE, greater=True))


def test_change_interval_is_deterministic_and_holds_the_change() -> None:
    current = scaled(BASE, 1.2)
    lo, hi = change_interval(BASE, current, in_points=False)
    assert (lo, hi) == change_interval(BASE, current, in_points=False)
    assert lo <= 0.2 <= hi and hi - lo < 0.05
    assert change_interval((1.0,), (2.0,), in_points=True) == (1.0, 1.0)
    assert all(math.isnan(v) for v in change_interval((0.0,), (1.0,), in_points=False))


# --- the rules ------------------------------------------------------------------------------------------

def test_a_regression_needs_both_significance_and_size() -> None:
    assert verdict("cpu_us_per_req", BASE, scaled(BASE, 1.2)) == (REGRESSION, "worse by more than 5%")
    # significant (every value higher) but only 2 %: not a regression
    assert verdict("cpu_us_per_req", BASE, scaled(BASE, 1.02)) == (NO_CHANGE, "within 5%")
    # a 20 % higher median from one wild repeat among overlapping ones: not significant
    v, why = verdict("cpu_us_per_req", BASE, (99.0, 100.2, 120.0, 121.0, 122.0))
    assert (v, why) == (NO_CHANGE, "beyond 5% but not significant (p > 0.05)")


def test_a_regression_needs_its_interval_wholly_on_the_bad_side() -> None:
    """The A/A pair `make bench-gate` called a regression under the rank test alone (stored CPU us/req of
    fastapi-uvicorn, two disturbed repeats): p = 0.016, +11% medians, but a 95% interval from -4% to +22%."""
    base = (65.2, 71.7, 73.5, 68.2, 66.3)
    current = (80.3, 80.9, 75.5, 68.8, 73.8)
    e = evidence("s", METRICS["cpu_us_per_req"], Side(base, (), (), None), Side(current, (), (), None), Thresholds())
    assert e.p_worse <= 0.05 and e.change > 0.05 and e.change_lo < 0  # the rank test alone would call it
    v, why = judge(e)
    assert v == NO_CHANGE and why.startswith("beyond 5% but not significant (its 95% interval, ")
    # the mirror image for throughput, where lower is worse: a clean drop is still a regression
    assert verdict("rps", BASE, scaled(BASE, 0.9)) == (REGRESSION, "worse by more than 5%")


def test_direction_per_metric() -> None:
    assert verdict("rps", BASE, scaled(BASE, 0.8))[0] == REGRESSION  # less throughput is worse
    assert verdict("rps", BASE, scaled(BASE, 1.2))[0] == IMPROVEMENT
    assert verdict("p99_ms", BASE, scaled(BASE, 0.8))[0] == IMPROVEMENT
    assert verdict("cpu_us_per_req", BASE, scaled(BASE, 0.8)) == (IMPROVEMENT, "better by more than 5%")


def test_error_rate_is_compared_in_points() -> None:
    zeros = (0.0,) * 5
    assert verdict("error_pct", zeros, (0.3, 0.2, 0.4, 0.1, 0.3)) == (NO_CHANGE, "within 1 pp")  # 0 -> 0.3 %
    assert verdict("error_pct", zeros, (1.5, 1.6, 1.4, 1.7, 1.5)) == (REGRESSION, "worse by more than 1 pp")
    assert verdict("error_pct", zeros, zeros) == (NO_CHANGE, "within 1 pp")


def test_flags_make_rps_and_p99_inconclusive_but_not_cpu_or_errors() -> None:
    slower = scaled(BASE, 0.5)
    assert verdict("rps", BASE, slower, flags=("noisy",)) == (INCONCLUSIVE, "flagged noisy on current")
    assert verdict("p99_ms", BASE, BASE, base_flags=("generator-bound", "starved"), flags=("noisy",)) == (
        INCONCLUSIVE, "flagged generator-bound/starved on base; noisy on current")
    assert verdict("cpu_us_per_req", BASE, scaled(BASE, 1.2), flags=("noisy",))[0] == REGRESSION
    assert verdict("rps", BASE, slower, flags=("littles-off", "steal", "errors"))[0] == REGRESSION  # not blocking


def test_every_flag_but_three_blocks_by_default_so_a_new_one_joins() -> None:
    assert set(BLOCKING_FLAGS) == set(FLAG_RULES) - {"errors", "steal", "littles-off"}
    assert {"noisy", "generator-bound", "starved", "stalled"} <= set(BLOCKING_FLAGS)


def test_flags_are_read_from_the_aggregate_by_their_rule_names() -> None:
    row = {"noisy": True, "generator_cpu_pct_max": 95.0, "starved": None, "stalled": False, "error_pct_max": 0.0}
    assert raised_flags(row) == ("generator-bound", "noisy")
    assert raised_flags({}) == ()


def test_too_few_repeats_says_how_many() -> None:
    assert verdict("cpu_us_per_req", (100.0,), (150.0,)) == (INCONCLUSIVE, "needs --repeat 3 (1 vs 1 repeats)")
    assert verdict("cpu_us_per_req", BASE[:2], (150.0, 151.0))[0] == INCONCLUSIVE  # 2 vs 2: p >= 1/6
    assert verdict("cpu_us_per_req", BASE[:3], (150.0, 151.0, 152.0))[0] == REGRESSION  # 3 vs 3 reaches 0.05
    strict = Thresholds(alpha=0.01)
    assert verdict("cpu_us_per_req", BASE[:3], (150.0, 151.0, 152.0), thresholds=strict)[1].startswith(
        "needs --repeat 5")


def test_a_cell_that_measured_nothing_in_current_is_a_regression_on_every_metric() -> None:
    for metric in METRICS:
        v, why = verdict(metric, BASE, (), nothing="server died (all 5 repeats)")
        assert (v, why) == (REGRESSION, "failed in current: server died (all 5 repeats)")
    # it comes before "too few repeats": one base repeat against a dead cell still fails
    assert verdict("rps", (100.0,), (), nothing="did not start")[0] == REGRESSION
    assert verdict("rps", (), (), nothing="x", base_nothing="x")[0] == INCONCLUSIVE
    assert verdict("rps", (), BASE, base_nothing="did not start") == (
        INCONCLUSIVE, "not measured in base: did not start")


def test_a_metric_one_side_lacks_is_inconclusive() -> None:
    assert verdict("cpu_us_per_req", BASE, ()) == (INCONCLUSIVE, "not measured in current")
    assert verdict("cpu_us_per_req", (), BASE) == (INCONCLUSIVE, "not measured in base")


def test_repeats_that_newly_fail_are_an_error_regression() -> None:
    failed = ((3, "server process 9 died during the cell"),)
    v, why = verdict("error_pct", (0.0,) * 5, (0.0,) * 4, failed=failed)
    assert v == REGRESSION and why.startswith("1 of 5 repeats failed in current (none in base)")
    assert verdict("cpu_us_per_req", BASE, BASE[:4], failed=failed)[0] == NO_CHANGE  # judged on ok repeats
    assert verdict("error_pct", (0.0,) * 4, (0.0,) * 4, failed=failed, base_failed=failed)[0] == NO_CHANGE


def test_rules_are_a_table_ending_in_a_rule_that_always_applies() -> None:
    assert [v for v, _ in RULES].count(NO_CHANGE) == 1 and RULES[-1][0] == NO_CHANGE
    assert RULES[0][1].__name__ == "failed_in_current"


# --- thresholds -----------------------------------------------------------------------------------------

def test_threshold_lookup_per_stack_then_metric_then_default() -> None:
    t = parse_thresholds({"thresholds": {"default": 0.07, "rps": 0.10},
                          "stacks": {"fastapi-uvicorn": {"rps": 0.15}}}, "t.toml")
    assert t.threshold("fastapi-uvicorn", "rps") == 0.15
    assert t.threshold("flask-gunicorn-sync", "rps") == 0.10
    assert t.threshold("flask-gunicorn-sync", "p99_ms") == 0.07
    assert t.threshold("flask-gunicorn-sync", "error_pct") == 1.0  # points, never the ratio default


def test_gate_toml_at_the_root_is_the_built_in_default() -> None:
    t, d = load_thresholds(REPO / "gate.toml"), Thresholds()
    assert (t.alpha, t.default, dict(t.metrics), dict(t.stacks), t.gate, t.flags) == (
        d.alpha, d.default, dict(d.metrics), dict(d.stacks), d.gate, d.flags)


@pytest.mark.parametrize(("data", "needle"), [
    ({"gate": {"aplha": 0.05}}, "[gate]: unknown key 'aplha'"),
    ({"thresholds": {"cpu": 0.05}}, "[thresholds]: unknown key 'cpu'"),
    ({"gate": {"metrics": ["cpu_us_per_req", "latency"]}}, "[gate].metrics: unknown name 'latency'"),
    ({"gate": {"flags": ["nosy"]}}, "[gate].flags: unknown name 'nosy'"),
    ({"stacks": {"x": {"throughput": 0.1}}}, "unknown key 'throughput'"),
    ({"gate": {"alpha": 0.9}}, "[gate].alpha = 0.9: should be a number from"),
    ({"thresholds": {"rps": True}}, "[thresholds].rps = True"),
    ({"thresholds": {"rps": -0.1}}, "should be a number"),
    ({"gates": {}}, "unknown key 'gates'"),
])
def test_bad_thresholds_are_one_line_naming_the_key(data: dict, needle: str) -> None:
    with pytest.raises(ThresholdsError) as exc:
        parse_thresholds(data, "my-gate.toml")
    message = str(exc.value)
    assert message.startswith("my-gate.toml: ") and needle in message and "\n" not in message


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "gate.toml"
    bad.write_text("[gate\nalpha = 0.05\n")
    with pytest.raises(ThresholdsError, match="not valid TOML"):
        load_thresholds(bad)
    with pytest.raises(ThresholdsError, match="cannot read"):
        load_thresholds(tmp_path / "nope.toml")
