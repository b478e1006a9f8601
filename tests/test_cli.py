"""The CLI as a user meets it: one-line errors with exit code 2, JSON listings, help with examples and the
profiles and scenarios read from their files, --version, and a Locust command that works as printed."""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios.catalog import load_scenarios
from servers.matrix import load_matrix
from stackmark.cli import EXAMPLES, build_parser, main
from stackmark.commands import locust_ui_command
from stackmark.select import profile_stacks


def run(cmd: list[str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout)


def test_list_json_has_every_stack_with_its_fields(stackmark_cmd: list[str]) -> None:
    r = run(stackmark_cmd, "list", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) >= 12
    assert {"id", "framework", "server", "interface"} <= set(rows[0])
    assert len({row["id"] for row in rows}) == len(rows)


def test_list_filters_by_server(stackmark_cmd: list[str]) -> None:
    rows = json.loads(run(stackmark_cmd, "list", "uwsgi", "--json").stdout)
    assert rows and {r["server"] for r in rows} == {"uwsgi"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bench", "--stacks", "fastapi-uvicron"], "did you mean 'fastapi-uvicorn'"),
        (["bench", "--scenario", "jsn"], "did you mean 'json'"),
        (["bench", "--duration", "-5"], "duration -5 s is out of range"),
        (["bench", "--concurrency", "0"], "concurrency 0 is out of range"),
        (["bench", "--concurrency", "many"], "whole numbers"),
        (["bench", "--profile", "nope"], "unknown profile 'nope'"),
        (["bench", "--server-cpus", "99"], "CPU 99 is not available"),
        (["verify", "nosuchstack"], "unknown stack 'nosuchstack'"),
        (["serve", "flask-gunicorn-sync", "--port", "70000"], "port 70000 is out of range"),
        (["serve", "flask-gunicorn-sync", "--scenario", "jsn"], "did you mean 'json'"),
        (["serve", "bare-wsgi-gunicorn-sync", "--scenario", "db"], "does not serve scenario 'db'"),
        (["profiles", "--matrix", "/nonexistent/matrix.toml"], "matrix file not found"),
        (["report", "/nonexistent/run"], "run folder"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(stackmark_cmd: list[str], args: list[str], needle: str) -> None:
    r = run(stackmark_cmd, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert needle in lines[0]


def test_unwritable_results_folder_fails_before_any_load(stackmark_cmd: list[str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    r = run(stackmark_cmd, "bench", "--stacks", "fastapi-uvicorn", "--out", str(blocker / "results"))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "cannot write results" in r.stderr and "--out" in r.stderr
    assert "ready in" not in r.stdout  # no stack was started


def test_version_is_the_package_metadata(stackmark_cmd: list[str]) -> None:
    r = run(stackmark_cmd, "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"stackmark {importlib.metadata.version('stackmark')}"


def test_bare_stackmark_prints_help_and_exits_0(stackmark_cmd: list[str]) -> None:
    r = run(stackmark_cmd)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: stackmark")
    for command in ("list", "serve", "verify", "bench", "report", "scenarios", "profiles"):
        assert f"    {command}" in r.stdout, command
    assert "examples:" in r.stdout


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every (sub)command's parser by its name, e.g. "baseline save"."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[prefix + name] = sub
                found |= subcommands(sub, f"{prefix}{name} ")
    return found


def test_every_command_help_ends_with_examples_that_parse() -> None:
    commands = subcommands(build_parser())
    assert {"list", "serve", "verify", "bench", "ab", "report", "scenarios", "profiles"} <= set(commands)
    for name, sub in commands.items():
        help_text = sub.format_help()
        assert "examples:" in help_text, name
        for line in EXAMPLES[name]:
            assert f"  {line}" in help_text
            words = shlex.split(line)
            assert words[0] == "stackmark" and words[1:len(name.split()) + 1] == name.split(), line
            build_parser().parse_args(words[1:])  # a typo in an example would exit 2 here


def test_bench_help_lists_profiles_and_scenarios_from_their_files(stackmark_cmd: list[str]) -> None:
    r = run(stackmark_cmd, "bench", "--help")
    assert r.returncode == 0, r.stderr
    matrix = load_matrix()
    for name, profile in matrix.profiles.items():
        assert f"  {name}" in r.stdout, name
        assert f"stacks {len(profile_stacks(matrix, profile))}:" in r.stdout
    quick = matrix.profiles["quick"]
    assert "quick (the default)" in r.stdout
    assert f"{quick['duration_s']:g} s measured after {quick['primer_s']:g} s primer" in r.stdout
    for scenario in load_scenarios().values():
        assert f"{scenario.name}  " in r.stdout and scenario.description in r.stdout


def test_scenarios_json_lists_the_catalog(stackmark_cmd: list[str]) -> None:
    r = run(stackmark_cmd, "scenarios", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    catalog = load_scenarios()
    assert set(rows) == set(catalog)
    assert rows["echo"]["method"] == "POST" and rows["echo"]["body"] == catalog["echo"].body
    assert rows["open-json"]["model"] == "open" and rows["json"]["model"] == "closed"
    assert rows["json"]["default_users"] == load_matrix().profiles["quick"]["concurrency"]



def test_profiles_json_lists_the_matrix_profiles(stackmark_cmd: list[str]) -> None:
    r = run(stackmark_cmd, "profiles", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    matrix = load_matrix()
    assert set(rows) == set(matrix.profiles)
    assert [name for name, row in rows.items() if row["default"]] == ["quick"]
    for name, row in rows.items():
        profile = matrix.profiles[name]
        assert row["stacks"] == [s.id for s in profile_stacks(matrix, profile)]
        assert (row["scenarios"], row["concurrency"], row["repeat"]) == (
            profile["scenarios"], profile["concurrency"], profile["repeat"])


def in_process(argv: list[str]) -> int:
    """stackmark's main in this process, its SIGTERM handler put back after (pytest's own stays in place)."""
    before = signal.getsignal(signal.SIGTERM)
    try:
        return main(argv)
    finally:
        signal.signal(signal.SIGTERM, before)


def test_list_at_80_columns_keeps_every_id_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from stackmark import commands

    console = Console(width=80, record=True)
    monkeypatch.setattr(commands, "out", console)
    assert in_process(["list"]) == 0
    text = console.export_text()
    assert "…" not in text
    assert all(stack in text for stack in load_matrix().stacks)


@pytest.mark.parametrize("command", ["scenarios", "profiles"])
def test_listing_tables_name_every_entry(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert in_process([command]) == 0
    shown = capsys.readouterr().out
    names = load_scenarios() if command == "scenarios" else load_matrix().profiles
    assert all(name in shown for name in names), shown


def test_serve_prints_a_locust_command_that_runs_as_printed() -> None:
    """Absolute paths (no activated virtualenv needed), quoted for the shell, the UI on loopback."""
    catalog = load_scenarios()
    line = locust_ui_command(catalog["echo"], "http://127.0.0.1:8000")
    argv = shlex.split(line)
    exe = argv[:3] if argv[1:3] == ["-m", "locust"] else argv[:1]
    assert Path(exe[0]).is_absolute() and os.access(exe[0], os.X_OK), exe
    assert Path(exe[0]).parent == Path(sys.executable).parent
    rest = argv[len(exe):]
    assert rest[rest.index("-f") + 1] == str(catalog["echo"].locustfile) and Path(rest[1]).is_absolute()
    assert rest[rest.index("--host") + 1] == "http://127.0.0.1:8000"
    assert rest[rest.index("--body") + 1] == catalog["echo"].body  # the JSON body survives the quoting
    assert rest[rest.index("--web-host") + 1] == "127.0.0.1"
    # the command as printed, from another folder, asked to list its users: the binary runs, loads the
    # locustfile and accepts every option printed (a wrong one would exit 2)
    r = subprocess.run([*shlex.split(locust_ui_command(catalog["json"], "http://127.0.0.1:8000")), "--list"],
                       capture_output=True, text=True, timeout=120, cwd="/")
    assert r.returncode == 0, r.stderr
    assert "EndpointUser" in r.stdout
