"""The ranking table as a person reads it at 80, 100 and 160 columns: stack ids whole, flags whole or short with
a legend, no empty column, no line wider than the console, and the words of analysis/labels.py."""
from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from rich.cells import cell_len
from rich.console import Console

from analysis.analyze import analyze
from analysis.flags import FLAG_RULES
from analysis.labels import FLAG_SHORT, LABELS, TIE_MARK, relative_text
from golden_runs import DATA, GOLDEN, SWEEP, golden_thresholds  # noqa: F401  (an autouse fixture)
from servers.matrix import load_matrix
from stackmark.console import drop_to_fit, fit_table, flag_text, print_ranking, table_width

WIDTHS = (80, 100, 160)
RUNS = {"golden": GOLDEN, "sweep": SWEEP, "intervals": DATA / "compare-failed"}


@pytest.fixture(scope="module")
def rankings() -> dict[str, pd.DataFrame]:
    return {name: analyze(path).ranking for name, path in RUNS.items()}


def longest_ids(ranking: pd.DataFrame) -> pd.DataFrame:
    """The same ranking with the matrix's longest stack ids and every flag raised: the worst case for width."""
    ids = sorted(load_matrix().stacks, key=len, reverse=True)
    worst = ranking.copy()
    worst["stack"] = [ids[i % len(ids)] for i in range(len(worst))]
    worst["flags"] = ",".join(FLAG_RULES)
    worst["tie_with_next"] = True
    return worst


CASES: dict[str, Callable[[dict[str, pd.DataFrame]], pd.DataFrame]] = {
    "golden": lambda r: r["golden"],
    "sweep": lambda r: r["sweep"],
    "intervals": lambda r: r["intervals"],
    "longest-ids": lambda r: longest_ids(r["golden"]),
}


def render(ranking: pd.DataFrame, width: int) -> str:
    console = Console(width=width, record=True, emoji=False)
    print_ranking(ranking, console)
    return console.export_text()


def whole(word: str, text: str) -> bool:
    """`word` appears with no id character glued to either side (a cut `fast…` or a longer id do not count)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", CASES)
def test_every_stack_id_whole_and_no_line_wider_than_the_console(rankings: dict[str, pd.DataFrame], case: str,
                                                                  width: int) -> None:
    ranking = CASES[case](rankings)
    text = render(ranking, width)
    assert "…" not in text  # rich's ellipsis: something was cut
    for stack in ranking["stack"]:
        assert whole(stack, text), f"{stack} cut at {width} columns:\n{text}"
    too_wide = [line for line in text.splitlines() if cell_len(line) > width]
    assert not too_wide, "\n".join(too_wide)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", CASES)
def test_flags_whole_or_short_with_a_legend(rankings: dict[str, pd.DataFrame], case: str, width: int) -> None:
    ranking = CASES[case](rankings)
    text = render(ranking, width)
    legend = next((line for line in text.splitlines() if line.startswith("flags: ")), "")
    raised = {f for flags in ranking["flags"] for f in str(flags or "").split(",") if f}
    for flag in raised:
        short = FLAG_SHORT[flag]
        assert whole(flag, text.replace(legend, "")) or (whole(short, text) and f"{short} {flag}" in legend), (
            f"flag {flag} neither whole nor explained at {width} columns:\n{text}")


def test_narrow_console_abbreviates_flags_and_says_so(rankings: dict[str, pd.DataFrame]) -> None:
    text = render(longest_ids(rankings["golden"]), 80)
    legend = [line for line in text.splitlines() if line.startswith("flags: ")]
    assert legend and "GEN generator-bound" in text and "NSY noisy" in text
    assert "not shown at this width" in text  # what was given up is said, not hidden


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", CASES)
def test_no_column_with_nothing_in_it(rankings: dict[str, pd.DataFrame], case: str, width: int) -> None:
    ranking = CASES[case](rankings)
    for (scenario, _), group in ranking.groupby(["scenario", "concurrency"], sort=False):
        rows = [{str(k): v for k, v in r.items()} for r in group.to_dict("records")]
        table = fit_table(width, str(scenario), rows).table
        for column in table.columns:
            assert any(str(cell).strip() for cell in column._cells), f"empty column {column.header!r}"
            assert column.header in LABELS.values()


def test_columns_that_say_nothing_in_this_run_are_left_out(rankings: dict[str, pd.DataFrame]) -> None:
    sweep = render(rankings["sweep"], 160)  # one repeat everywhere: no intervals, no n
    assert LABELS["rps_interval"] not in sweep and LABELS["cpu_interval"] not in sweep
    assert not re.search(r"┃ n ┃", sweep)
    golden = render(rankings["golden"], 160)  # 1 to 3 repeats: intervals and n say something
    assert LABELS["rps_interval"] in golden and re.search(r"┃ n ┃", golden)
    assert "1,500-2,900" in golden  # flask-gunicorn-gthread's rps interval


def test_labels_are_the_shared_words(rankings: dict[str, pd.DataFrame]) -> None:
    text = render(rankings["golden"], 160)
    for key in ("rank", "stack", "rps", "rel_rps", "p99_ms", "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct",
                "flags"):
        assert LABELS[key] in text, key
    assert relative_text(0.55) in text  # flask-gunicorn-gthread: 2,200 of 4,000 req/s
    assert TIE_MARK in text and any(line.startswith(f"{TIE_MARK}: ") for line in text.splitlines())
    for old in ("vs best", "(~ next)", "Locust CPU", "us/req", "RSS MB"):
        assert old not in text, old


def test_flag_text_short_and_whole() -> None:
    assert flag_text("generator-bound,noisy", short=False) == "generator-bound, noisy"
    assert flag_text("generator-bound,noisy", short=True) == "GEN, NSY"
    assert flag_text("", short=True) == ""


def test_piped_console_is_wide_so_logs_are_not_cut() -> None:
    code = "from stackmark.console import out, err; print(out.width, err.width)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=Path(__file__).resolve().parent.parent)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["160", "160"]


def test_drop_to_fit_drops_in_order_until_the_table_fits() -> None:
    columns = {"id": ["django-asgi-async-gunicorn-uvicorn"], "worker": ["uvicorn"], "interface": ["asgi"],
               "workers": ["1"]}
    full = table_width(columns)
    assert drop_to_fit(dict(columns), full, ["workers", "interface"]) == []
    narrow = dict(columns)
    assert drop_to_fit(narrow, full - 1, ["workers", "interface"]) == ["workers"]
    assert list(narrow) == ["id", "worker", "interface"] and table_width(narrow) <= full - 1
    tiny = dict(columns)
    assert drop_to_fit(tiny, 10, ["workers", "interface"]) == ["workers", "interface"]  # never beyond the list
    assert "id" in tiny
