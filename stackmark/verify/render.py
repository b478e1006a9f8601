"""Findings as text for a terminal or a log: grouped by endpoint, one line per difference."""

from __future__ import annotations

from .findings import Finding, VerifyResult


def format_findings(stack_id: str, result: VerifyResult) -> str:
    """Readable report: a header line, then per endpoint what was sent, expected and got."""
    if not result.findings:
        return f"{stack_id}: ok ({len(result.endpoints)} endpoints match the contract)"
    parts = []
    if result.failed_endpoints:
        parts.append("failed: " + ", ".join(result.failed_endpoints))
    if result.warned_endpoints:
        parts.append("warned: " + ", ".join(result.warned_endpoints))
    lines = [f"{stack_id}: {result.status.upper()} ({len(result.findings)} findings; {'; '.join(parts)})"]
    by_endpoint: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_endpoint.setdefault(f.endpoint, []).append(f)
    for name, items in by_endpoint.items():
        tag = "" if result.endpoint_status(name) == "fail" else " [warn]"
        lines.append(f"  {name}{tag}")
        lines += _difference_lines(items)
    return "\n".join(lines)


def _difference_lines(items: list[Finding]) -> list[str]:
    """One line per distinct difference: the same one on several requests (e.g. every clamping case) once."""
    groups: dict[tuple[str, str, str, str], list[Finding]] = {}
    for f in items:
        groups.setdefault((f.level, f.check, f.expected, f.actual), []).append(f)
    lines = []
    for (level, check, expected, actual), same in groups.items():
        where = same[0].request or same[0].path or same[0].endpoint
        more = f"  (and {len(same) - 1} more requests)" if len(same) > 1 else ""
        mark = "" if level == "fail" else f" [{level}]"
        lines.append(f"    {where}  {check}{mark}: expected {expected}  got {actual}{more}")
    return lines
