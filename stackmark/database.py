"""The benchmark database: schema, deterministic data, seeding, URL helpers.

Every app reads the same two tables (TechEmpower's ``world`` and ``fortune``),
from SQLite or PostgreSQL, named by one URL:

- ``sqlite:////abs/path.sqlite3`` (four slashes: an absolute path; three
  slashes and a relative path are taken relative to the working directory);
- ``postgresql://user:password@host:port/dbname`` (or ``postgres://``).

Names are lowercase so PostgreSQL needs no quoting and the apps can send the
same SQL to both. The data is deterministic (a fixed random seed), so two runs,
or two stacks, read identical rows and the verifier can know what to expect.
URLs may carry passwords: anything that is written down (run.json, logs,
reports, error messages) goes through :func:`redact` first.
"""
from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stackmark.errors import UserError

WORLD_ROWS = 10_000
"""Rows in ``world``: ids 1..WORLD_ROWS, randomnumber in 1..WORLD_ROWS."""

DEFAULT_SEED = 20_241_122
"""Seed of the ``randomnumber`` column, fixed so every database is the same."""

FORTUNES: tuple[tuple[int, str], ...] = (
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. \u2014 Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af"),
)
"""The 12 classic TechEmpower fortunes, (id, message); the verifier imports these."""

ADDITIONAL_FORTUNE = "Additional fortune added at request time."
"""The fortune (id 0) each app adds before sorting; never stored in the table."""

SCHEMA: tuple[str, ...] = (
    "CREATE TABLE world (id INTEGER PRIMARY KEY, randomnumber INTEGER NOT NULL)",
    "CREATE TABLE fortune (id INTEGER PRIMARY KEY, message TEXT NOT NULL)",
)
"""DDL valid in both SQLite and PostgreSQL (lowercase names: no quoting)."""

CONNECT_TIMEOUT_S = 5
"""How long to wait for PostgreSQL before saying it is unreachable."""

LOCK_TIMEOUT = "10s"
"""How long seeding PostgreSQL waits for a table lock held by a running server."""

_PG_SCHEMES = ("postgresql", "postgres")
_PIP_HINT = "install it with `.venv/bin/pip install 'psycopg[binary]>=3.1'` (or rerun `make setup`)"


class DatabaseError(UserError):
    """A database problem the user can fix; the message is one line: problem, then fix.

    A subclass of UserError so the CLI prints it as one line (exit 2), never a
    traceback. Messages only ever contain redacted URLs.
    """


# --- URLs -------------------------------------------------------------------


def sqlite_url(path: Path | str) -> str:
    """``sqlite:////abs/path.sqlite3``: absolute, so it means the same to every process."""
    return "sqlite:///" + str(Path(path).expanduser().resolve())


def scheme(url: str) -> str:
    """``'sqlite'`` or ``'postgresql'``; anything else is a :class:`DatabaseError`."""
    head, sep, _ = url.partition("://")
    name = head.lower()
    if sep and name == "sqlite":
        return "sqlite"
    if sep and name in _PG_SCHEMES:
        return "postgresql"
    shown = f"{head}://" if sep else repr(redact(url)[:40])
    raise DatabaseError(
        f"unsupported database URL scheme {shown}; use sqlite:////abs/path.sqlite3 "
        "or postgresql://user:password@host:port/dbname"
    )


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///`` URL names (relative paths against the working directory)."""
    scheme(url)
    rest = url.partition("://")[2]
    if not rest.startswith("/") or rest == "/":
        raise DatabaseError(
            f"bad SQLite URL {redact(url)!r}: no file path; write sqlite:////abs/path.sqlite3"
        )
    return Path(rest[1:]).expanduser().absolute()


# `password=...` as a URL query parameter or a libpq key=value pair, quoted or not.
_PASSWORD_PARAM = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&#]+)")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``; a URL without one comes back unchanged.

    Secrets must never reach run.json, logs or reports. The user part ends at
    the *last* ``@``, so a password with an unencoded ``@``, ``/`` or ``?`` is
    still hidden (over-hiding is safe, showing is not).
    """
    head, sep, rest = url.partition("://")
    if sep and head.lower() != "sqlite":
        at = rest.rfind("@")
        if at >= 0:
            user, colon, _password = rest[:at].partition(":")
            if colon:
                rest = f"{user}:***{rest[at:]}"
        url = f"{head}{sep}{rest}"
    return _PASSWORD_PARAM.sub(r"\1***", url)


# --- connections ------------------------------------------------------------


def _psycopg() -> Any:
    """The psycopg module, or a one-line error saying how to install it."""
    try:
        import psycopg
    except ImportError as exc:
        raise DatabaseError(f"psycopg is not installed ({exc}); {_PIP_HINT}") from None
    return psycopg


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def connect(url: str, *, timeout: float = CONNECT_TIMEOUT_S) -> Any:
    """An open DB-API connection (sqlite3 or psycopg) for seeding, the verifier and tests; caller closes it.

    Both engines come back in autocommit mode, so a reader never sits "idle in
    transaction" holding locks that would block a later :func:`seed`; use
    ``BEGIN``/``COMMIT`` (sqlite3) or ``conn.transaction()`` (psycopg) to group writes.

    SQLite: the file must already exist (use :func:`seed` or :func:`ensure_sqlite`
    to make one), so a typo in a path is an error rather than a new empty file.
    PostgreSQL: unreachable or refused gives one line with the redacted URL.
    """
    if scheme(url) == "sqlite":
        path = sqlite_path(url)
        if not path.is_file():
            raise DatabaseError(f"SQLite database {path} does not exist; create it with ensure_sqlite() or seed()")
        return _sqlite_connect(path, timeout)
    return _pg_connect(url, timeout)


def _sqlite_connect(path: Path, timeout: float) -> sqlite3.Connection:
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so DDL is transactional too.
        return sqlite3.connect(path, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open SQLite database {path}: {_first_line(exc)}; "
                            "check the path and permissions") from None


def _pg_connect(url: str, timeout: float) -> Any:
    psycopg = _psycopg()
    try:
        return psycopg.connect(url, connect_timeout=max(1, round(timeout)), autocommit=True)
    except psycopg.Error as exc:
        raise DatabaseError(
            f"cannot connect to PostgreSQL at {redact(url)}: {redact(_first_line(exc))}; "
            "start the server or fix the URL (tests: run scripts/setup-postgres.sh)"
        ) from None


# --- data -------------------------------------------------------------------


def world_rows(random_seed: int = DEFAULT_SEED) -> list[tuple[int, int]]:
    """The ``world`` table as (id, randomnumber) rows: the same for every database and run."""
    rng = random.Random(random_seed)
    return [(i, rng.randint(1, WORLD_ROWS)) for i in range(1, WORLD_ROWS + 1)]


def seed(url: str, *, random_seed: int = DEFAULT_SEED) -> None:
    """Drop, create and fill ``world`` and ``fortune`` in one transaction.

    One transaction, so a crash or a concurrent reader never sees half a table.
    SQLite files are switched to WAL first, so many server processes can read
    while one writes (the ``/updates``-style endpoints). Existing data in those
    two tables is lost; nothing else in the database is touched.
    """
    rows = world_rows(random_seed)
    if scheme(url) == "sqlite":
        _seed_sqlite(sqlite_path(url), rows)
    else:
        _seed_postgres(url, rows)


def _seed_sqlite(path: Path, rows: Sequence[tuple[int, int]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create folder {path.parent}: {exc.strerror}; pick a writable path") from None
    conn = _sqlite_connect(path, timeout=30)
    try:
        # journal_mode is stored in the file and cannot change inside a transaction.
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise DatabaseError(f"SQLite refused WAL mode for {path} (got {mode!r}); put the file on a local disk")
        conn.execute("BEGIN IMMEDIATE")
        try:
            _fill(conn, rows, placeholder="?")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot seed SQLite database {path}: {_first_line(exc)}; "
                            "delete the file and retry") from None
    finally:
        conn.close()


def _seed_postgres(url: str, rows: Sequence[tuple[int, int]]) -> None:
    psycopg = _psycopg()
    conn = _pg_connect(url, CONNECT_TIMEOUT_S)
    try:
        with conn.transaction():  # autocommit connection: an explicit BEGIN ... COMMIT
            # A server still connected may hold a lock on the tables: fail, don't hang.
            conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            _fill(conn, rows, placeholder="%s")
        # Planner statistics, so the first benchmark requests don't run on guesses.
        conn.execute("ANALYZE world")
        conn.execute("ANALYZE fortune")
    except psycopg.Error as exc:
        raise DatabaseError(
            f"cannot seed PostgreSQL at {redact(url)}: {redact(_first_line(exc))}; "
            "check that the user may create tables and that no server holds them"
        ) from None
    finally:
        conn.close()


def _fill(conn: Any, rows: Sequence[tuple[int, int]], placeholder: str) -> None:
    """The shared body of seeding: same SQL for both engines, bar the placeholder."""
    p = placeholder
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS world")
    cur.execute("DROP TABLE IF EXISTS fortune")
    for ddl in SCHEMA:
        cur.execute(ddl)
    cur.executemany(f"INSERT INTO world (id, randomnumber) VALUES ({p}, {p})", rows)
    cur.executemany(f"INSERT INTO fortune (id, message) VALUES ({p}, {p})", FORTUNES)
    cur.close()


def row_counts(url: str) -> dict[str, int]:
    """Rows in ``world`` and ``fortune`` (0 for a missing table): a cheap completeness check."""
    conn = connect(url)
    try:
        return _row_counts(conn)
    finally:
        conn.close()


def _row_counts(conn: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in ("world", "fortune"):
        try:
            cur = conn.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            counts[table] = int(cur.fetchone()[0])
        except Exception:  # missing table: sqlite3.OperationalError / psycopg UndefinedTable
            counts[table] = 0  # autocommit: no aborted transaction to roll back
    return counts


def _sqlite_complete(path: Path) -> bool:
    """True if the file holds both tables, full, with ids 1..N, in WAL mode."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    conn = _sqlite_connect(path, timeout=30)
    try:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            world = conn.execute("SELECT count(*), min(id), max(id) FROM world").fetchone()
            fortunes = conn.execute("SELECT count(*) FROM fortune").fetchone()[0]
        except sqlite3.OperationalError:
            return False  # a table is missing: seed it
        except sqlite3.DatabaseError as exc:  # e.g. "file is not a database"
            raise DatabaseError(
                f"{path} is not a usable SQLite database ({_first_line(exc)}); delete it and it will be recreated"
            ) from None
    finally:
        conn.close()
    return str(mode).lower() == "wal" and tuple(world) == (WORLD_ROWS, 1, WORLD_ROWS) and fortunes == len(FORTUNES)


def ensure_sqlite(path: Path | str) -> str:
    """Create and seed the SQLite file if it is missing or incomplete; return its URL.

    Cheap when the file is already complete (three small queries, no writes), so
    every run may call it; a complete file is left as it is, not reseeded.
    """
    path = Path(path)
    url = sqlite_url(path)
    if not _sqlite_complete(sqlite_path(url)):
        seed(url)
    return url


__all__ = [
    "ADDITIONAL_FORTUNE",
    "DEFAULT_SEED",
    "FORTUNES",
    "SCHEMA",
    "WORLD_ROWS",
    "DatabaseError",
    "connect",
    "ensure_sqlite",
    "redact",
    "row_counts",
    "scheme",
    "seed",
    "sqlite_path",
    "sqlite_url",
    "world_rows",
]
