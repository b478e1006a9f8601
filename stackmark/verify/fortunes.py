"""The pure /fortunes check: TechEmpower's HTML page, parsed and compared row by row.

Frameworks render the page with their own template engine, so whitespace
and the escaping style may differ; the tag sequence, the title, the cells
and the absence of a raw ``<script>`` may not.
"""

from __future__ import annotations

from collections.abc import Iterable
from html.parser import HTMLParser

from apps.contract import ADDITIONAL_FORTUNE

from .findings import Finding, problem


class _FortunesParser(HTMLParser):
    """Collects the doctype, the tag sequence, the title and the table's cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doctype: str | None = None
        self.tags: list[str] = []
        self.title = ""
        self.rows: list[list[str]] = []
        self.stray: list[str] = []
        self._cell: list[str] | None = None
        self._in_title = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)
        if tag in ("td", "th") and self._cell is not None:
            if self.rows:
                self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_title:
            self.title += data
        elif data.strip():
            self.stray.append(data.strip())


def expected_fortunes(stored: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """The rows /fortunes must show: the stored ones plus the additional one, sorted by message."""
    return sorted([*stored, (0, ADDITIONAL_FORTUNE)], key=lambda row: row[1])


def check_fortunes(body: bytes, stored: Iterable[tuple[int, str]]) -> list[Finding]:
    """Parse the page and compare it row by row with ``stored`` + the additional fortune."""
    found: list[Finding] = []
    if b"<script>" in body:
        found.append(problem("escaping", "&lt;script&gt; (HTML-escaped)", "a raw <script> tag in the page"))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [*found, problem("body", "UTF-8", f"not UTF-8: {exc}")]
    parser = _FortunesParser()
    parser.feed(text)
    parser.close()
    return [*found, *_page_problems(parser), *_row_problems(parser.rows[1:], expected_fortunes(stored))]


def _page_problems(parser: _FortunesParser) -> list[Finding]:
    """The page's frame: doctype, tag sequence, title, no stray text, the header row."""
    found: list[Finding] = []
    if not parser.doctype or parser.doctype.strip().lower() != "doctype html":
        found.append(problem("html", "<!DOCTYPE html>", repr(parser.doctype)))
    shape = ["html", "head", "title", "/title", "/head", "body", "table",
             "tr", "th", "/th", "th", "/th", "/tr",
             *(["tr", "td", "/td", "td", "/td", "/tr"] * len(parser.rows[1:])),
             "/table", "/body", "/html"]
    if parser.tags != shape:
        pairs = zip(parser.tags, shape, strict=False)
        at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(shape), len(parser.tags)))
        found.append(problem("html", f"TechEmpower's page: tag {at} is <{shape[at] if at < len(shape) else 'end'}>",
                             f"<{parser.tags[at] if at < len(parser.tags) else 'end'}>"))
    if parser.title != "Fortunes":
        found.append(problem("html", "<title>Fortunes</title>", repr(parser.title)))
    if parser.stray:
        found.append(problem("html", "no text outside cells", repr(parser.stray[0])))
    if not parser.rows or parser.rows[0] != ["id", "message"]:
        found.append(problem("html", "header row id | message", repr(parser.rows[0] if parser.rows else None)))
    return found


def _row_problems(got_rows: list[list[str]], want: list[tuple[int, str]]) -> list[Finding]:
    """The table's rows against ``want``: the count, then the first three that differ."""
    found: list[Finding] = []
    if len(got_rows) != len(want):
        found.append(problem("rows", f"{len(want)} rows", f"{len(got_rows)} rows"))
    shown = 0
    for i, (got, (wid, msg)) in enumerate(zip(got_rows, want, strict=False)):
        if got != [str(wid), msg]:
            if shown < 3:
                found.append(problem("body", f"row {i + 1}: {wid} | {msg!r}", f"{' | '.join(map(repr, got))}"))
            shown += 1
    if shown > 3:
        found.append(problem("body", "rows as expected", f"{shown - 3} more rows differ"))
    return found
