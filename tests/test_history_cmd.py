"""`stackmark history` as a user meets it: PNGs and one self-contained page, the table of steps, one-line errors."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from golden_runs import PNG_MAGIC
from stackmark.cli import build_parser, main
from stackmark.history_cmd import DEFAULT_FILE
from test_history import STEP_RUN, make_history, sha

METRIC_FILES = ["history-rps.png", "history-cpu_us_per_req.png", "history-p99_ms.png", "history-error_pct.png"]


def test_charts_page_and_the_step_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = make_history(tmp_path / "history.jsonl")
    out = tmp_path / "charts"
    assert main(["history", "--file", str(source), "--out", str(out)]) == 0
    for name in METRIC_FILES:
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    html = (out / "index.html").read_text(encoding="utf-8")
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)  # nothing to fetch
    assert "<link" not in html and "http" not in html
    assert sha(STEP_RUN)[:8] in html and "+25" in html
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines() if "CPU time per request" in line)
    assert "fastapi-uvicorn" in row and sha(STEP_RUN)[:8] in row and "worse" in row
    assert "flask" not in printed.split("charts:")[0]  # the flat stack has no step
    assert str(out / "index.html") in printed


def test_one_metric_one_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = make_history(tmp_path / "history.jsonl")
    out = tmp_path / "charts"
    assert main(["history", "--file", str(source), "--out", str(out), "--metric", "rps",
                 "--stacks", "flask"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["history-rps.png"]
    assert "no step changes in 1 series over 14 runs" in capsys.readouterr().out


def test_default_out_is_beside_the_history_file(tmp_path: Path) -> None:
    source = make_history(tmp_path / "history.jsonl", runs=5)
    assert main(["history", "--file", str(source), "--metric", "cpu_us_per_req"]) == 0
    assert (tmp_path / "history" / "index.html").is_file()
    assert build_parser().parse_args(["history"]).file == DEFAULT_FILE == "results/history.jsonl"


def test_a_damaged_last_line_is_a_warning_not_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = make_history(tmp_path / "history.jsonl", runs=5)
    with source.open("ab") as f:
        f.write(b'{"history_version": 1, "ru')
    assert main(["history", "--file", str(source), "--out", str(tmp_path / "o"), "--metric", "rps"]) == 0
    assert f"warning: {source}:6: skipped a damaged last line" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "needle"), [
    (["--metric", "cpu"], "unknown metric 'cpu'"),
    (["--stacks", "fastapi-uvicron"], "did you mean 'fastapi-uvicorn'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                          needle: str) -> None:
    source = make_history(tmp_path / "history.jsonl", runs=3)
    assert main(["history", "--file", str(source), "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # checked before anything is written


def test_a_missing_or_empty_history_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--file", str(tmp_path / "none.jsonl")]) == 2
    assert "no such history file" in capsys.readouterr().err
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["history", "--file", str(tmp_path / "empty.jsonl")]) == 2
    assert "no run with a finished cell yet" in capsys.readouterr().err


def test_the_installed_command_runs(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    source = make_history(tmp_path / "history.jsonl", runs=9)
    r = subprocess.run([*stackmark_cmd, "history", "--file", str(source), "--metric", "cpu_us_per_req"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "step change" in r.stdout and (tmp_path / "history" / "history-cpu_us_per_req.png").is_file()
