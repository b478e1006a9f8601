"""`stackmark compare BASE CURRENT` and `stackmark baseline save RUN_DIR NAME`: thin commands.

The work is in analysis.compare (the verdicts), analysis.compare_render (the
three outputs) and runformat.baseline (the file); these functions read the
inputs, turn what cannot be used into one line (exit 2), print and write.
Exit codes: 0 no regression, 1 a regression on a gating metric, 2 unusable
input. `gate` is also what `stackmark ab` calls on its two sides.
Analysis is imported inside the functions: scipy costs a second at start-up
that `stackmark list` should not pay.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from runformat import atomic
from runformat.baseline import BASELINES_DIR, baseline_path, write_baseline
from stackmark.console import err, out
from stackmark.errors import UserError

if TYPE_CHECKING:
    from analysis.compare import Comparison
    from analysis.thresholds import Thresholds


def thresholds_from(path: str | None) -> Thresholds:
    """The thresholds file given, ./gate.toml, or the defaults; a bad file is one line (exit 2)."""
    from analysis.thresholds import ThresholdsError, load_thresholds

    try:
        return load_thresholds(Path(path) if path else None)
    except ThresholdsError as exc:
        raise UserError(escape(str(exc))) from None  # the CLI prints errors as rich markup: keep [gate]


def show(c: Comparison) -> None:
    """The verdict, the table, what changed, and the verdict again where the eye ends up."""
    from analysis.compare_render import terminal, what_changed, who

    style = "bold red" if c.regressions else "bold green"
    out.print(f"[{style}]{c.headline}[/]")
    out.print(f"base    {who(c.base)}\ncurrent {who(c.current)}", highlight=False)
    out.print(terminal(c))
    changed = what_changed(c)
    if changed:
        out.print("what changed:")
        for line in changed:
            out.print(f"  {line}", highlight=False, soft_wrap=True)
    out.print(c.thresholds.describe(), style="dim", highlight=False, soft_wrap=True)
    out.print(f"[{style}]{c.headline}[/]")


def gate(base: Path | str, current: Path | str, *, thresholds: str | None = None, markdown: str | None = None,
         json_out: str | None = None, verbose: bool = False, allow_different_host: bool = False,
         python_is_change: bool = False, baselines_dir: Path = BASELINES_DIR) -> int:
    """Compare CURRENT with BASE, print the verdict, write the Markdown and JSON asked for; the exit code.

    `python_is_change`: another Python is what is being tested (an A/B of two environments), so it is
    listed with the versions instead of making the runs incomparable.
    """
    from analysis.compare import CompareError, compare
    from analysis.compare_render import markdown as to_markdown
    from analysis.compare_render import to_json
    from analysis.compare_sample import load_sample

    limits = thresholds_from(thresholds)  # a bad thresholds file fails before any run is read
    base_sample = load_sample(str(base), baselines_dir)
    current_sample = load_sample(str(current), baselines_dir)
    try:
        comparison = compare(base_sample, current_sample, limits, allow_different_host, python_is_change)
    except CompareError as exc:
        raise UserError(escape(str(exc))) from None
    show(comparison)
    if markdown:
        atomic.write_text(Path(markdown), to_markdown(comparison, verbose))
        out.print(f"markdown: {markdown}", highlight=False)
    if json_out:
        atomic.write_text(Path(json_out), json.dumps(to_json(comparison), indent=2, allow_nan=False) + "\n")
        out.print(f"json:     {json_out}", highlight=False)
    return comparison.exit_code


def cmd_compare(args: argparse.Namespace) -> int:
    return gate(args.base, args.current, thresholds=args.thresholds, markdown=args.markdown, json_out=args.json,
                verbose=args.verbose, allow_different_host=args.allow_different_host,
                baselines_dir=Path(args.baselines))


def cmd_baseline_save(args: argparse.Namespace) -> int:
    """Save RUN_DIR as results/baselines/NAME.json (per-repeat values, failures, flags, host, versions)."""
    from analysis.analyze import analyze
    from analysis.compare_sample import from_analysis, to_baseline

    try:
        path = baseline_path(Path(args.out_dir), args.name)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if path.exists() and not args.force:
        raise UserError(f"{path} exists; pass --force to replace it, or choose another NAME")
    analysis = analyze(Path(args.run_dir))
    sample = from_analysis(analysis)
    measured = [c for c in sample.cells.values() if c.measured]
    if not measured:
        raise UserError(f"{args.run_dir}: no cell finished ok, so a baseline of it would gate nothing; "
                        "save a run that measured something")
    write_baseline(path, to_baseline(sample, args.name))
    repeats = sorted({len(v) for c in measured for v in c.values.values() if v})
    out.print(f"baseline {args.name}: {path} ({len(measured)} cells measured, "
              f"{'/'.join(map(str, repeats))} repeats each, run {sample.run_id}); commit it, then "
              f"`stackmark compare {path} RUN_DIR`", highlight=False, soft_wrap=True)
    if analysis.meta["finished_at"] is None:
        err.print(f"note: {args.run_dir} did not finish; the baseline holds only the cells it measured",
                  highlight=False, soft_wrap=True)
    return 0
