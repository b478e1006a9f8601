"""stackmark.verify's pure checks: one response, a body, rows, fortunes, updates."""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest

from apps.contract import (
    ADDITIONAL_FORTUNE,
    ENDPOINTS,
    Endpoint,
)
from stackmark.database import FORTUNES
from stackmark.verify import (
    check_fortunes,
    check_response,
    check_rows,
    check_updates_written,
    check_world,
    expected_fortunes,
)
from verify_helpers import JSON, PLAIN, checks, good, json_headers

# --- check_response (pure) ----------------------------------------------------


@pytest.mark.parametrize("ep", [PLAIN, JSON], ids=lambda e: e.name)
def test_good_response_passes(ep: Endpoint) -> None:
    assert check_response(ep, *good(ep)) == []


def test_header_names_are_case_insensitive() -> None:
    status, headers, body = good(PLAIN)
    lower = {k.lower(): v for k, v in headers.items()}
    upper = {k.upper(): v for k, v in headers.items()}
    assert check_response(PLAIN, status, lower, body) == []
    assert check_response(PLAIN, status, upper, body) == []


def test_json_spacing_and_trailing_newline_pass() -> None:
    body = b'{\n  "message" :  "Hello, World!"\n}\n'
    status, headers, _ = good(JSON)
    headers["Content-Length"] = str(len(body))
    assert check_response(JSON, status, headers, body) == []


def test_wrong_text_body_is_caught() -> None:
    status, headers, _ = good(PLAIN)
    found = check_response(PLAIN, status, headers, b"Hello, world!")
    assert checks(found) == ["body"]
    assert found[0].level == "fail"
    assert "Hello, world!" in found[0].actual


def test_text_body_with_trailing_newline_is_caught() -> None:
    body = b"Hello, World!\n"
    status, headers, _ = good(PLAIN)
    headers["Content-Length"] = str(len(body))
    assert checks(check_response(PLAIN, status, headers, body)) == ["body"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"message": "Hello, world!"}',
        b'{"message": "Hello, World!", "extra": 1}',
        b'{"msg": "Hello, World!"}',
        b'["Hello, World!"]',
    ],
)
def test_wrong_json_value_is_caught(body: bytes) -> None:
    status, headers, _ = good(JSON)
    headers["Content-Length"] = str(len(body))
    assert checks(check_response(JSON, status, headers, body)) == ["body"]


def test_json_types_are_strict() -> None:
    ep = Endpoint("n", "/n", content_type="application/json", body_json={"v": 1})
    status, headers, _ = good(JSON)
    for body, ok in [(b'{"v": 1}', True), (b'{"v": 1.0}', True), (b'{"v": true}', False), (b'{"v": "1"}', False)]:
        headers["Content-Length"] = str(len(body))
        assert (check_response(ep, status, headers, body) == []) is ok, body


def test_unparsable_json_is_a_fail() -> None:
    body = b"<html>oops</html>"
    status, headers, _ = good(JSON)
    headers["Content-Length"] = str(len(body))
    found = check_response(JSON, status, headers, body)
    assert checks(found) == ["body"]
    assert found[0].level == "fail" and "unparsable" in found[0].actual


@pytest.mark.parametrize("name", ["Server", "Date", "Content-Length"])
def test_missing_required_header_is_caught(name: str) -> None:
    status, headers, body = good(PLAIN)
    del headers[name]
    found = check_response(PLAIN, status, headers, body)
    assert checks(found) == [f"header:{name.lower()}"]
    assert found[0].actual == "(missing)"


@pytest.mark.parametrize("declared", ["12", "14", "abc"])
def test_wrong_content_length_is_caught(declared: str) -> None:
    status, headers, body = good(PLAIN)
    headers["Content-Length"] = declared
    assert checks(check_response(PLAIN, status, headers, body)) == ["content-length"]


def test_chunked_instead_of_content_length_is_a_fail() -> None:
    status, headers, body = good(JSON)
    del headers["Content-Length"]
    headers["Transfer-Encoding"] = "chunked"
    found = check_response(JSON, status, headers, body)
    assert checks(found) == ["content-length"]
    assert "chunked" in found[0].actual


def test_stream_may_chunk_but_not_end_at_close() -> None:
    ep = ENDPOINTS["stream"]
    body = b"x" * 64 * 1024
    headers = json_headers(body, "application/octet-stream")
    assert check_response(ep, 200, headers, body) == []
    del headers["Content-Length"]
    assert check_response(ep, 200, {**headers, "Transfer-Encoding": "chunked"}, body) == []
    assert checks(check_response(ep, 200, headers, body)) == ["content-length"]  # close-delimited
    short = b"x" * 1000
    assert checks(check_response(ep, 200, json_headers(short, "application/octet-stream"), short)) == ["body"]
    odd = b"x" * 65535 + b"y"
    assert checks(check_response(ep, 200, json_headers(odd, "application/octet-stream"), odd)) == ["body"]


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "application/json"])
def test_wrong_content_type_is_caught(ctype: str) -> None:
    status, headers, body = good(PLAIN)
    headers["Content-Type"] = ctype
    assert checks(check_response(PLAIN, status, headers, body)) == ["content-type"]


def test_missing_content_type_is_caught() -> None:
    status, headers, body = good(PLAIN)
    del headers["Content-Type"]
    assert checks(check_response(PLAIN, status, headers, body)) == ["content-type"]


def test_content_type_parameters_are_ignored() -> None:
    status, headers, body = good(PLAIN)
    headers["Content-Type"] = "TEXT/PLAIN;charset=ISO-8859-1"
    assert check_response(PLAIN, status, headers, body) == []


@pytest.mark.parametrize("status", [201, 404, 500])
def test_wrong_status_is_caught(status: int) -> None:
    _, headers, body = good(PLAIN)
    found = check_response(PLAIN, status, headers, body)
    assert checks(found) == ["status"]
    assert found[0].expected == "200" and found[0].actual.startswith(str(status))


def test_long_bodies_are_truncated() -> None:
    body = b"x" * 5000
    status, headers, _ = good(PLAIN)
    headers["Content-Length"] = str(len(body))
    (finding,) = check_response(PLAIN, status, headers, body)
    assert len(finding.actual) <= 80


# --- database rows, fortunes, updates (pure) ----------------------------------------


def test_check_world() -> None:
    assert check_world({"id": 1, "randomNumber": 10_000}) is None
    assert check_world({"id": 5, "randomNumber": 7}, {5: 7}) is None
    assert "database has" in (check_world({"id": 5, "randomNumber": 8}, {5: 7}) or "")
    for bad in ({"id": 0, "randomNumber": 1}, {"id": 1, "randomNumber": 10_001}, {"id": True, "randomNumber": 1},
                {"id": 1, "randomnumber": 1}, {"id": "1", "randomNumber": 1}, [1, 2],
                {"id": 1, "randomNumber": 1, "x": 0}):
        assert check_world(bad) is not None, bad


def test_check_rows_counts_and_shapes() -> None:
    rows = [{"id": i, "randomNumber": i} for i in range(1, 21)]
    assert check_rows(rows, 20) == []
    assert checks(check_rows(rows, 500)) == ["rows"]
    assert checks(check_rows([*rows[:19], {"id": 1}], 20)) == ["body"]
    assert checks(check_rows({"id": 1, "randomNumber": 1}, 1)) == ["body"]  # an object, not a list


def fortunes_page(rows: list[tuple[int, str]], escape: Callable[[str], str] = html.escape) -> bytes:
    cells = "".join(f"<tr><td>{i}</td><td>{escape(m)}</td></tr>" for i, m in rows)
    return ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
            f"<tr><th>id</th><th>message</th></tr>{cells}</table></body></html>").encode()


def test_fortunes_good_page_passes_with_either_escaping_style() -> None:
    want = expected_fortunes(FORTUNES)
    assert want[0][0] == 11 and (0, ADDITIONAL_FORTUNE) in want and len(want) == 13
    assert check_fortunes(fortunes_page(want), FORTUNES) == []
    django_style = fortunes_page(want, lambda m: html.escape(m).replace("&#x27;", "&#x27;").replace("&quot;", "&quot;"))
    assert check_fortunes(django_style, FORTUNES) == []
    spaced = fortunes_page(want).replace(b"<tr>", b"\n  <tr>").replace(b"</table>", b"\n</table>\n")
    assert check_fortunes(spaced, FORTUNES) == []


def test_fortunes_problems_are_caught() -> None:
    want = expected_fortunes(FORTUNES)
    unescaped = check_fortunes(fortunes_page(want, escape=lambda m: m), FORTUNES)
    assert "escaping" in checks(unescaped)
    unsorted = check_fortunes(fortunes_page(sorted(want)), FORTUNES)
    assert set(checks(unsorted)) == {"body"} and len(unsorted) <= 4
    missing = check_fortunes(fortunes_page([r for r in want if r[0] != 0]), FORTUNES)
    assert "rows" in checks(missing)
    no_doctype = check_fortunes(fortunes_page(want)[len(b"<!DOCTYPE html>"):], FORTUNES)
    assert checks(no_doctype) == ["html"]
    retitled = check_fortunes(fortunes_page(want).replace(b"Fortunes</title>", b"Fortune</title>"), FORTUNES)
    assert checks(retitled) == ["html"]


def test_fortunes_compare_with_the_rows_given() -> None:
    stored = [(1, "b"), (2, "a")]
    assert check_fortunes(fortunes_page(expected_fortunes(stored)), stored) == []
    assert check_fortunes(fortunes_page(expected_fortunes(FORTUNES)), stored) != []


def test_fortunes_charset() -> None:
    ep = ENDPOINTS["fortunes"]
    body = fortunes_page(expected_fortunes(FORTUNES))
    assert check_response(ep, 200, json_headers(body, "text/html; charset=utf-8"), body) == []
    (warn,) = check_response(ep, 200, json_headers(body, "text/html"), body)
    assert warn.level == "warn"
    (fail,) = check_response(ep, 200, json_headers(body, "text/html; charset=latin-1"), body)
    assert fail.level == "fail"


def test_updates_written() -> None:
    before = {1: 10, 2: 20, 3: 30}
    rows = [{"id": 1, "randomNumber": 11}, {"id": 2, "randomNumber": 21}]
    assert check_updates_written(rows, before, {1: 11, 2: 21, 3: 30}) == []
    (not_written,) = check_updates_written(rows, before, before)
    assert not_written.check == "database" and "holds 10" in not_written.actual
    # returned the old values and wrote nothing: nothing changed
    (unchanged,) = check_updates_written([{"id": 1, "randomNumber": 10}, {"id": 2, "randomNumber": 20}],
                                         before, before)
    assert "no row changed" in unchanged.actual
    (stray,) = check_updates_written(rows, before, {1: 11, 2: 21, 3: 31})
    assert "other rows changed" in stray.actual
    # a duplicate id: either value may have won
    dup = [{"id": 1, "randomNumber": 11}, {"id": 1, "randomNumber": 12}, {"id": 2, "randomNumber": 21}]
    assert check_updates_written(dup, before, {1: 12, 2: 21, 3: 30}) == []
    # one row that randomly kept its value is not a failure
    assert check_updates_written([{"id": 3, "randomNumber": 30}], before, before) == []


def test_echo_error_shape_and_io_timing() -> None:
    ep = ENDPOINTS["echo"]
    bad = next(v for v in ep.requests() if v.name == "count bool")
    body = b'{"error": "invalid_body"}'
    assert check_response(ep, 422, json_headers(body), body, bad) == []
    other = b'{"detail": [{"msg": "bad"}]}'
    assert checks(check_response(ep, 422, json_headers(other), other, bad)) == ["body"]
    assert "500" in check_response(ep, 500, json_headers(body), body, bad)[0].actual
    io = ENDPOINTS["io"]
    body = b'{"waited_ms": 50}'
    assert check_response(io, 200, json_headers(body), body, elapsed_s=0.051) == []
    assert checks(check_response(io, 200, json_headers(body), body, elapsed_s=0.002)) == ["timing"]


def test_the_terminal_prints_a_missing_date_finding_as_written() -> None:
    """`stackmark verify` prints findings through rich, which would turn `header:date:` into an emoji."""
    from stackmark.console import out

    line = "/plaintext  header:date: expected present  got (missing)"
    with out.capture() as shown:
        out.print(line)
    assert shown.get().strip() == line
