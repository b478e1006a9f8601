"""The HTML report as a person sees it: opened from file:// in Debian's headless Chromium (issue 11).

Builds the report of the golden run and of a partial copy of it (one stack failed to start), opens each
index.html, takes a full-page screenshot to .artifacts/screenshots/ (a stable, gitignored path, printed),
and checks what a reader would: no console errors, nothing loaded from outside the file, every image
decoded, the parts of the page rendered, and the data table sorting and filtering when clicked.

The ids and classes checked (section#answers, table.grid, figure.chart, table#data-table.sortable, ...)
are the page's contract with analysis/templates/report.html.j2. Each check names what it found missing.
Skips only when Chromium is absent and scripts/setup-chromium.sh could not install it.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from analysis.report import build_report
from browser import SCREENSHOTS, chromium, console_errors, ensure_chromium, full_page_screenshot, wait_loaded
from golden_runs import GOLDEN, copy_run, golden_thresholds  # noqa: F401  (the autouse fixture)

FAILED_STACK = "fastapi-uvicorn"  # in the partial run, this stack failed to start
FAILED_REASON = "server exited with code 1 before accepting connections: address already in use"

# The parts of the page, as (CSS selector, the fewest that must match, what it is to a reader).
REQUIRED_PARTS: tuple[tuple[str, int, str], ...] = (
    ("section#answers p.answer", 1, "the answers first (section#answers with a p.answer)"),
    ("section#grid table.grid", 1, "the framework x server grid (section#grid table.grid)"),
    ("section#grid table.grid td[data-value]", 1, "grid cells with figures (table.grid td[data-value])"),
    ("section#charts figure.chart", 1, "charts (section#charts figure.chart)"),
    ("table#data-table.sortable tbody tr", 1, "the sortable data table's rows (table#data-table.sortable)"),
    ("section#stacks", 1, "what was verified (section#stacks)"),
    ("section#reproduce", 1, "how to reproduce the run (section#reproduce)"),
)

# What the page shows a script can read in one go: counts per selector, loads, images, charts.
FACTS_JS = """
const count = (sel) => document.querySelectorAll(sel).length;
const figures = Array.from(document.querySelectorAll("section#charts figure.chart"));
const drawn = (fig) => {
  const img = fig.querySelector("img");
  if (img) { return img.complete && img.naturalWidth > 0; }
  const svg = fig.querySelector("svg");
  if (!svg) { return false; }
  const box = svg.getBoundingClientRect();
  return box.width > 0 && box.height > 0;
};
const missing = document.querySelector("section#missing");
return {
  counts: Object.fromEntries(arguments[0].map((sel) => [sel, count(sel)])),
  loads: performance.getEntriesByType("resource").map((e) => e.name).filter((n) => !n.startsWith("data:")),
  broken: Array.from(document.images).filter((i) => !(i.complete && i.naturalWidth > 0))
    .map((i) => (i.getAttribute("alt") || i.src.slice(0, 60))),
  undrawn: figures.filter((f) => !drawn(f)).map((f) => f.getAttribute("data-file") || f.textContent.slice(0, 60)),
  missing: missing ? missing.textContent : null,
  title: document.title,
};
"""

# One column of the data table: each row's sort key (data-sort, else its text) and whether it is shown.
COLUMN_JS = """
const rows = Array.from(document.querySelectorAll("table#data-table tbody tr"));
return rows.map((r) => {
  const cell = r.cells[arguments[0]];
  const key = cell ? (cell.getAttribute("data-sort") ?? cell.textContent) : "";
  return [r.cells[0] ? r.cells[0].textContent.trim() : "", key.trim(), r.getClientRects().length > 0];
});
"""

# Each row's cell texts.
ROWS_JS = """
return Array.from(document.querySelectorAll("table#data-table tbody tr"))
  .map((r) => Array.from(r.cells).map((c) => c.textContent.trim()));
"""


def as_number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def partial_run(tmp_path: Path) -> Path:
    """A copy of the golden run in which FAILED_STACK failed to start (so it has no cells), as bench records it."""
    run = copy_run(GOLDEN, tmp_path / "partial")
    stack_dir = run / "stacks" / FAILED_STACK
    spec = json.loads((stack_dir / "stack.json").read_text())
    spec["start"] = {"status": "failed", "ready_s": None, "reason": FAILED_REASON,
                     "log_tail": "OSError: [Errno 98] Address already in use"}
    spec["verify"] = None
    (stack_dir / "stack.json").write_text(json.dumps(spec, indent=2))
    for cell in stack_dir.iterdir():
        if cell.is_dir():
            shutil.rmtree(cell)
    return run


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    why_not = ensure_chromium()
    if why_not:
        pytest.skip(why_not)
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def open_report(driver: WebDriver, index: Path, shot: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Open a report from file:// as a person would, screenshot the whole page to `shot`, and read its facts."""
    console_errors(driver)  # drop what an earlier page left in the log
    driver.get(index.as_uri())
    wait_loaded(driver)
    width, height = full_page_screenshot(driver, shot)
    with capsys.disabled():
        print(f"\nscreenshot of {index}: {shot} ({width}x{height})")
    assert width > 0 and height > 0
    facts: dict[str, Any] = driver.execute_script(FACTS_JS, [sel for sel, _, _ in REQUIRED_PARTS])
    facts["console_errors"] = console_errors(driver)
    facts["screenshot_height"] = height
    return facts


def page_problems(facts: dict[str, Any]) -> list[str]:
    """Everything a reader would find wrong with the page, one clear line each (empty: all good)."""
    problems = [f"console error: {m}" for m in facts["console_errors"]]
    problems += [f"loaded from outside the page (only data: URIs are allowed): {u}" for u in facts["loads"]]
    problems += [f"image not decoded (naturalWidth 0): {b}" for b in facts["broken"]]
    problems += [f"chart not drawn (no decoded img, no svg with a nonzero box): {u}" for u in facts["undrawn"]]
    for selector, least, what in REQUIRED_PARTS:
        found = facts["counts"][selector]
        if found < least:
            problems.append(f"missing {what}: {found} match `{selector}`, at least {least} expected")
    return problems


def sort_problem(driver: WebDriver) -> str | None:
    """Click a numeric heading of the data table: its rows must come back reordered and sorted by it."""
    heads = driver.find_elements(By.CSS_SELECTOR, "table#data-table thead th")
    if not heads:
        return "missing the data table's headings (table#data-table thead th)"
    candidates = []
    for i in range(len(heads)):
        column = driver.execute_script(COLUMN_JS, i)
        keys = [key for _, key, _ in column if key]
        numbers = [n for n in map(as_number, keys) if n is not None]
        if len(numbers) == len(keys) and len(set(numbers)) >= 2:
            candidates.append((numbers == sorted(numbers), i, column))
    if not candidates:
        return "no numeric column with two distinct values to sort by in table#data-table"
    _, i, before = min(candidates)  # prefer a column not already in ascending order
    try:
        heads[i].click()
    except WebDriverException as exc:
        return f"could not click the heading {heads[i].text!r} of table#data-table: {exc.msg}"
    after = driver.execute_script(COLUMN_JS, i)
    label = heads[i].text.strip()
    if after == before:
        return f"clicking the numeric heading {label!r} did not reorder table#data-table's rows"
    values = [as_number(key) for _, key, _ in after]
    present = [v for v in values if v is not None]
    blanks_last = all(v is None for v in values[len(present):])
    if not blanks_last or present not in (sorted(present), sorted(present, reverse=True)):
        return f"after clicking {label!r}, table#data-table is not sorted by it: {[k for _, k, _ in after]}"
    return None


def shown(driver: WebDriver) -> int:
    return sum(1 for _, _, visible in driver.execute_script(COLUMN_JS, 0) if visible)


def filter_problem(driver: WebDriver) -> str | None:
    """The filter of section#data (a text box input#filter, else its selects) must hide rows, and bring them
    back when cleared."""
    total = shown(driver)
    box = driver.find_elements(By.CSS_SELECTOR, "section#data input#filter")
    if box:
        rows: list[list[str]] = driver.execute_script(ROWS_JS)
        texts = [" ".join(r).lower() for r in rows]
        # A word of the first row that some other row lacks (its stack, say): typing it must hide rows.
        word = next((c for c in rows[0] if c and not all(c.lower() in t for t in texts)), None)
        if word is None:
            return "every cell of the first row of table#data-table is in every row: nothing to filter by"
        box[0].send_keys(word)
        narrowed = shown(driver)
        box[0].clear()
        driver.execute_script("arguments[0].dispatchEvent(new Event('input'));", box[0])
        if not 0 < narrowed < total:
            return f"typing {word!r} in input#filter left {narrowed} of {total} rows shown (expected fewer, >0)"
        if shown(driver) != total:
            return f"clearing input#filter did not bring back all {total} rows"
        return None
    for select in driver.find_elements(By.CSS_SELECTOR, "section#data select"):
        for option in select.find_elements(By.TAG_NAME, "option")[1:]:
            option.click()
            if 0 < shown(driver) < total:
                return None
    return f"no filter in section#data (input#filter or a select) hides any of the {total} rows"


def check_report(driver: WebDriver, index: Path, shot: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    facts = open_report(driver, index, shot, capsys)
    problems = page_problems(facts)
    if facts["counts"]["table#data-table.sortable tbody tr"]:
        problems += [p for p in (sort_problem(driver), filter_problem(driver)) if p]
    assert not problems, f"{index} in Chromium:\n" + "\n".join(problems)
    return facts


def test_report_in_chromium(browser, tmp_path, capsys):
    facts = check_report(browser, build_report(copy_run(GOLDEN, tmp_path)), SCREENSHOTS / "report.png", capsys)
    assert facts["screenshot_height"] > 900  # the whole page, not the window alone
    assert FAILED_STACK not in (facts["missing"] or "")  # it ran fine here: the partial check below can fail


def test_partial_report_in_chromium(browser, tmp_path, capsys):
    facts = check_report(browser, build_report(partial_run(tmp_path)), SCREENSHOTS / "report-partial.png", capsys)
    assert facts["missing"] is not None, "no section#missing in the report of a partial run"
    assert FAILED_STACK in facts["missing"], f"section#missing does not list {FAILED_STACK}, which failed to start"
    assert "address already in use" in facts["missing"], "section#missing does not say why the stack failed"


# A page that gets everything wrong: a script error, an image that is not there, a load from outside, a chart
# that never drew, a table that neither sorts nor filters, and none of the report's sections.
BROKEN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>broken</title>
<link rel="stylesheet" href="http://127.0.0.1:9/style.css"></head><body>
<section id="charts"><figure class="chart" data-file="nothing.png">
<img src="nothing.png" alt="nothing"></figure></section>
<section id="data"><input id="filter"><table id="data-table" class="sortable">
<thead><tr><th>stack</th><th>rps</th></tr></thead>
<tbody><tr><td>b-stack</td><td data-sort="1">1</td></tr><tr><td>a-stack</td><td data-sort="3">3</td></tr>
<tr><td>c-stack</td><td data-sort="2">2</td></tr></tbody></table></section>
<script>throw new Error("boom");</script></body></html>"""


def test_checks_catch_a_broken_page(browser, tmp_path, capsys):
    """The checks above can fail: each fault of a deliberately broken page is named."""
    page = tmp_path / "broken.html"
    page.write_text(BROKEN_PAGE, encoding="utf-8")
    facts = open_report(browser, page, tmp_path / "broken.png", capsys)
    problems = "\n".join(page_problems(facts))
    assert "console error" in problems and "boom" in problems
    assert "image not decoded (naturalWidth 0): nothing" in problems
    assert "chart not drawn" in problems and "nothing.png" in problems
    assert "loaded from outside the page (only data: URIs are allowed): http://127.0.0.1:9/style.css" in problems
    for selector in ("section#answers p.answer", "section#grid table.grid", "section#stacks", "section#reproduce"):
        assert f"`{selector}`" in problems
    assert "did not reorder" in (sort_problem(browser) or "")
    assert "rows shown (expected fewer" in (filter_problem(browser) or "")
