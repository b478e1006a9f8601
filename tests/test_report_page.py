"""The report page as a reader meets it: what is missing first, the answers with their caveats, the
framework x server grid, the charts by section, the sortable data, each stack's verification, how to
reproduce the run; self-contained and light. Structural checks on the golden runs (no browser here:
tests/test_report_browser.py opens it in Chromium)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from analysis import charts as chart_module
from analysis.analyze import analyze
from analysis.answers import answer
from analysis.grid import merged_order, split_id
from analysis.report import build_report
from analysis.reproduce import rebuilt_command
from golden_runs import GOLDEN, SWEEP, copy_run, golden_thresholds  # noqa: F401  (the fixture applies here)

DATA = Path(__file__).resolve().parent / "data"
FAILED = DATA / "compare-failed"
SECTIONS = ["missing", "answers", "grid", "charts", "data", "stacks", "reproduce"]


class Page(HTMLParser):
    """The parts of the page the tests read: section ids in order, grid tables, answers, scripts, links."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.ids: set[str] = set()
        self.grids: list[dict[str, Any]] = []
        self.answers: list[str] = []
        self.links: list[str] = []
        self.sources: list[str] = []
        self._answer: list[str] | None = None
        self._grid: dict[str, Any] | None = None
        self._cell: list[str] | None = None
        self._row: list[Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "section":
            self.sections.append(a.get("id", ""))
        if tag == "p" and a.get("class") == "answer":
            self._answer = []
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag in ("img", "script") and "src" in a:
            self.sources.append(a["src"])
        if tag == "table" and a.get("class") == "grid":
            self._grid = {**a, "columns": [], "rows": {}}
        if self._grid is not None and tag == "tr":
            self._row = []
        if self._grid is not None and tag in ("th", "td"):
            self._cell = []
            if tag == "td" and self._row is not None:
                self._row.append(a)

    def handle_data(self, data: str) -> None:
        if self._answer is not None:
            self._answer.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self._answer is not None:
            self.answers.append(" ".join("".join(self._answer).split()))
            self._answer = None
        if self._grid is not None and tag == "th" and self._cell is not None and self._row == []:
            self._row.append("".join(self._cell).strip())  # the row's first heading: its app (header row: "")
        if self._grid is not None and tag in ("th", "td"):
            self._cell = None
        if self._grid is not None and tag == "tr" and self._row:
            if self._row[0] and len(self._row) > 1:  # a row of cells, not the header row
                self._grid["rows"][self._row[0]] = self._row[1:]
            self._row = None
        if tag == "table" and self._grid is not None:
            self.grids.append(self._grid)
            self._grid = None


def header_columns(html: str, metric: str) -> list[str]:
    """A grid's column headings (the server variants), from its first row."""
    table = html.split(f'data-metric="{metric}">', 1)[1].split("</table>", 1)[0]
    first_row = table.split("<tr>", 2)[1]
    return [name for name in re.findall(r"<th>([^<]*)</th>", first_row) if name]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


@pytest.fixture
def no_charts(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests of the page's text: no charts drawn (matplotlib is most of a report's time)."""
    monkeypatch.setattr(chart_module, "write_report_charts", lambda analysis, out_dir: [])


@pytest.fixture(scope="module")
def golden_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    run = copy_run(GOLDEN, tmp_path_factory.mktemp("golden"))
    return build_report(run).read_text(encoding="utf-8")


def test_sections_in_reading_order(golden_html):
    page = parse(golden_html)
    assert [s for s in page.sections if s in SECTIONS] == SECTIONS
    assert '<table id="data-table" class="sortable">' in golden_html
    assert "<input id=\"filter\"" in golden_html and golden_html.count("<select data-filter=") == 3


def test_page_is_self_contained_and_light(golden_html):
    assert len(golden_html.encode("utf-8")) < 1_000_000
    page = parse(golden_html)
    assert page.sources and all(src.startswith("data:image/png;base64,") for src in page.sources)
    assert not [h for h in page.links if re.match(r"\s*(https?:)?//", h)]
    assert not re.search(r"@import|url\(\s*['\"]?https?:", golden_html)
    assert {"../summary.csv", "../aggregate.csv"} <= set(page.links)


def test_grid_has_apps_as_rows_and_variants_as_columns(golden_html):
    page = parse(golden_html)
    assert [g["data-metric"] for g in page.grids] == ["cpu_us_per_req", "rps"]
    for metric in ("cpu_us_per_req", "rps"):
        assert header_columns(golden_html, metric) == ["gunicorn-sync", "gunicorn-gthread", "uwsgi", "uvicorn",
                                                       "hypercorn"]
    rps = page.grids[1]
    assert list(rps["rows"]) == ["django-wsgi", "flask", "fastapi", "django-asgi"]
    fastapi = rps["rows"]["fastapi"]
    assert [c.get("data-value") for c in fastapi] == [None, None, None, "4000", "2050"]
    assert fastapi[3]["data-stack"] == "fastapi-uvicorn"
    valued = [c for cells in rps["rows"].values() for c in cells if c.get("data-value")]
    assert len(valued) == 6  # the six stacks with an ok cell; the verify failure has none
    # flags marked in the cell, in the terminal's short words
    cell = re.search(r'data-stack="flask-uwsgi"[^>]*>([^<]*)<small>([^<]*)</small>', golden_html)
    assert cell is not None and cell.group(2) == "UNS STV LIT NSY"
    assert 'title="django-wsgi-uwsgi">verify failed</td>' in golden_html
    # a generator-bound rate is a floor: marked, with the ceiling its CPU implies on hover
    bound = re.search(r'data-value="4000" data-stack="fastapi-uvicorn"[^>]*title="([^"]*)">([^<]*)<', golden_html)
    assert bound is not None and bound.group(2) == "≥4,000"
    assert "about 4,571 req/s per server core (an estimate)" in bound.group(1)


def test_columns_follow_the_matrix_order_without_reading_it():
    """Each app lists its variants in matrix order; merged, they give the README's columns (Gunicorn's
    variants together), whichever apps ran."""
    per_app = [["gunicorn-sync", "gunicorn-gthread", "uwsgi", "hypercorn", "granian"],
               ["gunicorn-uvicorn", "gunicorn-asgi", "uvicorn", "hypercorn", "granian", "daphne"]]
    server = {v: v.split("-")[0] for v in per_app[0] + per_app[1]}
    assert merged_order(per_app, server) == ["gunicorn-sync", "gunicorn-gthread", "gunicorn-uvicorn",
                                             "gunicorn-asgi", "uwsgi", "uvicorn", "hypercorn", "granian", "daphne"]
    assert split_id("django-wsgi-uwsgi", {"server": "uwsgi", "app": "django"}) == ("django-wsgi", "uwsgi")
    assert split_id("bare-asgi-gunicorn-uvicorn", {"server": "gunicorn"}) == ("bare-asgi", "gunicorn-uvicorn")
    assert split_id("flask-granian", {"variant": "granian"}) == ("flask", "granian")


def test_answers_name_the_top_stack_and_the_caveat_that_applies(golden_html):
    page = parse(golden_html)
    assert len(page.answers) == 1  # one scenario, one concurrency
    text = page.answers[0]
    assert text.startswith("json, 8 users:") and "fastapi-uvicorn served the most" in text
    # generator-bound: says what the cell does show, labelled as an estimate with its error
    assert "Locust's ceiling" in text and "a floor for the server" in text
    assert "about 4,571 req/s per server core (an estimate)" in text
    # how far such an estimate can be off: said once, under the answers
    assert golden_html.count("within about 15%") == 1 and 'id="estimate-note"' in golden_html
    assert "one repeat, so no interval" in text
    assert golden_html.index('<section id="missing">') < golden_html.index('class="answer"')


def row(stack: str, rps: float, **kw: Any) -> dict[str, Any]:
    base = {"scenario": "json", "concurrency": 32, "stack": stack, "rps": rps, "rel_rps": rps / 1000.0, "n": 3,
            "flags": "", "tie_with_next": False, "cpu_us_per_req": 1e6 / rps, "cpu_us_per_req_lo": None,
            "cpu_us_per_req_hi": None}
    return {**base, **kw}


def test_a_tie_is_not_presented_as_a_ranking():
    rows = [row("a", 1000, tie_with_next=True, flags="noisy"), row("b", 950), row("c", 500)]
    text = answer(rows, "json, 32 users", [1], open_model=False)
    assert text.leaders == ["a", "b"]
    assert "b is within the noise of it (≈ next), so their order is not a result" in text.claim
    assert "c, reached 50%" in text.claim
    assert any(c.startswith("a: the numbers moved too much") for c in text.caveats)
    assert not any("one repeat" in c for c in text.caveats)  # n = 3


def test_several_generator_bound_leaders_are_ordered_by_cpu_not_rate():
    rows = [row("x", 1000, flags="generator-bound", n=1), row("y", 990, flags="generator-bound", n=1,
                                                                cpu_us_per_req=50.0),
            row("z", 400)]
    text = answer(rows, "json, 32 users", [1], open_model=False)
    assert "their order by req/s means nothing" in text.claim
    assert "the cheapest was y at 50 µs" in text.claim
    assert "the next it can be told from, x, spent 1,000 µs" in text.claim
    assert "The fastest stack that did not reach it, z, served 400 req/s (40% of the top rate)" in text.claim
    assert text.estimate.startswith("What the generator-bound cells do show: y's 50 µs")
    assert "about 20,000 req/s per server core" in text.estimate and "x about 1,000" in text.estimate


def test_a_partial_run_lists_what_is_missing_at_the_top(tmp_path, no_charts):
    run = copy_run(GOLDEN, tmp_path)
    record_path = run / "stacks" / "fastapi-hypercorn" / "stack.json"
    record = json.loads(record_path.read_text())
    record["start"] = {"status": "failed", "ready_s": None, "reason": "port 40124 did not answer within 30 s"}
    record_path.write_text(json.dumps(record))
    for cell in (run / "stacks" / "fastapi-hypercorn").glob("json-*"):
        shutil.rmtree(cell)
    html = build_report(run).read_text(encoding="utf-8")
    missing = html.split('<section id="missing">', 1)[1].split("</section>", 1)[0]
    assert "fastapi-hypercorn" in missing and "start failed" in missing
    assert "port 40124 did not answer within 30 s" in missing
    assert 'title="fastapi-hypercorn">start failed</td>' in html  # its grid cell says why it is empty
    assert html.index('<section id="missing">') < html.index('<section id="answers">')


def test_failed_cells_run_renders(tmp_path, no_charts):
    run = copy_run(FAILED, tmp_path)
    analysis = analyze(run)
    failed = analysis.frame[analysis.frame["status"] != "ok"]
    assert not failed.empty
    html = build_report(run).read_text(encoding="utf-8")
    missing = html.split('<section id="missing">', 1)[1].split("</section>", 1)[0]
    for stack in set(failed["stack"]):
        assert stack in missing
    assert parse(html).answers


def test_every_stack_is_one_click_from_its_rows(golden_html):
    page = parse(golden_html)
    stacks = json.loads((GOLDEN / "run.json").read_text())["stacks"]
    for stack in stacks:
        assert f"stack-{stack}" in page.ids, stack
    row_links = re.findall(r'<td class="stack" data-sort="[^"]*"><a href="#(stack-[^"]+)">', golden_html)
    assert row_links and all(link in page.ids for link in row_links)
    uwsgi = golden_html.split('id="stack-django-wsgi-uwsgi">', 1)[1].split("</details>", 1)[0]
    assert "verify fail" in uwsgi and "content-type" in uwsgi and "uwsgi --http-socket 127.0.0.1:40121" in uwsgi


def test_reproduce_rebuilds_the_command_of_an_old_run(golden_html):
    section = golden_html.split('<section id="reproduce">', 1)[1].split("</section>", 1)[0]
    assert "rebuilt from" in section
    assert "git checkout 3f5c9e1d2b7a48c6e0f1a2b3c4d5e6f708192a3b" in section
    assert "stackmark bench --stacks django-wsgi-uwsgi flask-gunicorn-sync" in section
    assert "--scenario json --concurrency 8 --duration 3 --warmup 1 --primer 0.5 --repeat 3" in section
    assert "--server-cpus 1 --loadgen-cpus 0" in section
    assert "uncommitted changes" in section
    env = section.split("<details>", 1)[1]
    assert "hypercorn 0.18.0" in env and "3.11.9" in env and "bench-vm" in env


def test_reproduce_shows_the_recorded_command_and_never_a_password(tmp_path, no_charts):
    run = copy_run(GOLDEN, tmp_path)
    meta = json.loads((run / "run.json").read_text())
    meta["settings"].update(argv=["bench", "--stacks", "fastapi", "--repeat", "3", "--matrix", "team.toml"],
                            database="postgresql://bench:s3cret@127.0.0.1:5432/bench", matrix="team.toml",
                            loadgen="locust FastHttpUser, 2 process(es)", loadgen_processes=2)
    (run / "run.json").write_text(json.dumps(meta))
    html = build_report(run).read_text(encoding="utf-8")
    section = html.split('<section id="reproduce">', 1)[1].split("</section>", 1)[0]
    assert "The command this run was started with" in section
    assert "stackmark bench --stacks fastapi --repeat 3" in section and "team.toml" in section
    assert "s3cret" not in html and "postgresql://bench:***@127.0.0.1:5432/bench" in section
    assert "PostgreSQL" in section and "locust FastHttpUser, 2 process(es)" in section


def test_sweep_has_a_grid_per_concurrency_and_open_model_answers(tmp_path, no_charts):
    html = build_report(copy_run(SWEEP, tmp_path)).read_text(encoding="utf-8")
    page = parse(html)
    levels = {(g["data-scenario"], g["data-concurrency"]) for g in page.grids}
    assert {("json", "8"), ("json", "16"), ("json", "32")} <= levels
    assert any(a.startswith("open-json, ≤64 in flight:") and "open model" in a for a in page.answers)
    assert len(page.answers) == len(levels)


@dataclass(frozen=True)
class FakeChart:
    file: str
    title: str
    section: str
    caption: str
    svg: str | None


def test_charts_are_laid_out_by_section(tmp_path, monkeypatch):
    """analysis.charts' charts go under their sections, in page order: a PNG as a data URI, an SVG inline."""
    def fake(analysis: Any, out_dir: Path) -> list[FakeChart]:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
        return [FakeChart("a.png", "Per framework", "by-framework", "one per framework", None),
                FakeChart("b.png", "Over time", "timeline", "", '<svg class="inline" viewBox="0 0 1 1"></svg>')]

    monkeypatch.setattr(chart_module, "write_report_charts", fake)
    html = build_report(copy_run(GOLDEN, tmp_path)).read_text(encoding="utf-8")
    charts = html.split('<section id="charts">', 1)[1].split("</section>", 1)[0]
    assert charts.index("Which server for my framework") < charts.index("Within a cell, over time")
    assert '<figure class="chart" data-file="a.png">' in charts and "data:image/png;base64," in charts
    assert '<svg class="inline" viewBox="0 0 1 1"></svg>' in charts and "one per framework" in charts


def test_inline_script_is_valid_javascript(golden_html, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = golden_html.split("<script>", 1)[1].split("</script>", 1)[0]
    path = tmp_path / "page.js"
    path.write_text(script)
    result = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_the_rebuilt_command_is_one_the_cli_accepts():
    """The reproduce line of an old run parses with stackmark's own parser into the run's settings."""
    from stackmark.cli import build_parser

    meta = json.loads((GOLDEN / "run.json").read_text())
    meta["settings"].update(profile="quick", configuration="tuned", loadgen_processes=2)
    args = build_parser().parse_args(rebuilt_command(meta)[1:])
    s = meta["settings"]
    assert args.command == "bench" and args.stacks == meta["stacks"] and args.scenario == s["scenarios"]
    assert [int(c) for c in args.concurrency] == s["concurrency"] and args.repeat == s["repeat"]
    assert (args.duration, args.warmup, args.primer) == (s["duration_s"], s["warmup_s"], s["primer_s"])
    assert (args.server_cpus, args.loadgen_cpus) == ("1", "0")
    assert (args.profile, args.configuration, args.locust_processes) == ("quick", "tuned", 2)
