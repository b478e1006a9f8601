"""The two walls: apps never import the harness; nothing runs a shell string."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HARNESS = {"stackmark", "servers", "analysis", "scenarios", "runformat"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_apps_never_import_the_harness() -> None:
    files = list((REPO / "apps").rglob("*.py"))
    assert len(files) >= 8
    for f in files:
        assert not (_imports(f) & HARNESS), f"{f} imports the harness"


def test_app_modules_do_not_import_the_contract() -> None:
    """The contract checks the apps; an app that read it could not be wrong."""
    for f in (REPO / "apps").rglob("*.py"):
        if f.name == "contract.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom):
                mods = [node.module or ""] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                continue
            assert not any(m.endswith("contract") for m in mods), f"{f} imports the contract"


def test_no_shell_strings_anywhere() -> None:
    for pkg in ("stackmark", "servers", "scenarios", "analysis", "apps"):
        for f in (REPO / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text())):
                if isinstance(node, ast.keyword) and node.arg == "shell":
                    assert not (isinstance(node.value, ast.Constant) and node.value.value), f"shell=True in {f}"
                if isinstance(node, ast.Attribute) and node.attr in {"system", "popen"}:
                    assert not (isinstance(node.value, ast.Name) and node.value.id == "os"), f"os.{node.attr} in {f}"
