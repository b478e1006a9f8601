"""The database layer: seeding SQLite and a real PostgreSQL, idempotence, redaction, errors."""
from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest

from stackmark import database as db
from stackmark.errors import UserError

JAPANESE = "フレームワークのベンチマーク"
SCRIPT = '<script>alert("This should not be displayed in a browser alert box.");</script>'


def _rows(url: str, sql: str) -> list[tuple]:
    conn = db.connect(url)
    try:
        return [tuple(r) for r in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def _check_seeded(url: str) -> None:
    """What every seeded database must hold, whatever the engine."""
    world = _rows(url, "SELECT id, randomnumber FROM world ORDER BY id")
    assert len(world) == db.WORLD_ROWS == 10_000
    assert [r[0] for r in world] == list(range(1, 10_001))
    assert all(1 <= r[1] <= 10_000 for r in world)
    assert len({r[1] for r in world}) > 5_000  # random, not constant
    assert world == db.world_rows()  # deterministic: the default seed
    fortunes = _rows(url, "SELECT id, message FROM fortune ORDER BY id")
    assert fortunes == CLASSIC_FORTUNES
    assert len(fortunes) == 12
    messages = {m for _, m in fortunes}
    assert SCRIPT in messages and JAPANESE in messages
    assert db.row_counts(url) == {"world": 10_000, "fortune": 12}


# --- constants -----------------------------------------------------------------


# Typed out again here, on purpose: a slip in FORTUNES must not pass by comparing it with itself.
CLASSIC_FORTUNES = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. — Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, SCRIPT),
    (12, JAPANESE),
]


def test_fortune_constants_are_the_classic_twelve() -> None:
    assert list(db.FORTUNES) == CLASSIC_FORTUNES
    assert "\u2014 Donald Knuth" in db.FORTUNES[7][1]  # an em dash, not a hyphen
    assert db.ADDITIONAL_FORTUNE == "Additional fortune added at request time."


def test_world_rows_are_deterministic_per_seed() -> None:
    assert db.world_rows() == db.world_rows()
    assert db.world_rows(1) != db.world_rows(2)
    # Pinned: every database, run and machine must hold exactly these rows.
    rows = db.world_rows()
    assert rows[:5] == [(1, 5524), (2, 3301), (3, 752), (4, 4009), (5, 8582)]
    assert sum(n for _, n in rows) == 50_190_220


def test_world_randomnumbers_stay_in_range() -> None:
    """200,000 draws: a range off by one at either end would show up here."""
    numbers = [n for s in range(20) for _, n in db.world_rows(s)]
    assert min(numbers) == 1 and max(numbers) == db.WORLD_ROWS


# --- SQLite --------------------------------------------------------------------


def test_sqlite_url_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = db.sqlite_url(Path("x.sqlite3"))
    assert url == f"sqlite:///{tmp_path.resolve()}/x.sqlite3"
    assert url.startswith("sqlite:////")
    assert db.sqlite_path(url) == tmp_path.resolve() / "x.sqlite3"


def test_seed_sqlite(tmp_path: Path) -> None:
    url = db.sqlite_url(tmp_path / "sub" / "bench.sqlite3")
    db.seed(url)
    _check_seeded(url)
    assert _rows(url, "PRAGMA journal_mode") == [("wal",)]


def test_seed_replaces_what_was_there(tmp_path: Path) -> None:
    url = db.sqlite_url(tmp_path / "b.sqlite3")
    db.seed(url, random_seed=1)
    assert _rows(url, "SELECT id, randomnumber FROM world ORDER BY id") == db.world_rows(1)
    db.seed(url)
    _check_seeded(url)


def test_session_fixture_is_seeded(sqlite_url: str) -> None:
    _check_seeded(sqlite_url)


def test_ensure_sqlite_creates_then_leaves_alone(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "bench.sqlite3"
    url = db.ensure_sqlite(path)
    assert url == db.sqlite_url(path)
    _check_seeded(url)
    # A marker only a reseed would undo.
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE world SET randomnumber = 4242 WHERE id = 1")
    conn.close()
    before = path.stat().st_mtime_ns
    assert db.ensure_sqlite(path) == url
    assert _rows(url, "SELECT randomnumber FROM world WHERE id = 1") == [(4242,)]
    assert path.stat().st_mtime_ns == before


@pytest.mark.parametrize("damage", [
    "DELETE FROM world WHERE id > 9000",
    "DELETE FROM fortune WHERE id = 12",
    "DROP TABLE fortune",
])
def test_ensure_sqlite_reseeds_an_incomplete_file(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "bench.sqlite3"
    db.ensure_sqlite(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(damage)
    conn.close()
    _check_seeded(db.ensure_sqlite(path))


def test_ensure_sqlite_names_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(db.DatabaseError) as exc:
        db.ensure_sqlite(path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg and "delete it" in msg


def test_wal_lets_a_writer_commit_while_a_reader_is_open(sqlite_url: str, tmp_path: Path) -> None:
    """Why seed() sets WAL: with the default rollback journal this commit fails as 'locked'."""
    url = db.ensure_sqlite(tmp_path / "wal.sqlite3")
    reader = db.connect(url)
    writer = db.connect(url, timeout=0)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT randomnumber FROM world WHERE id = 7").fetchone()
        writer.execute("UPDATE world SET randomnumber = 1 WHERE id = 7")  # autocommit
        # The reader still sees its snapshot; a new read sees the write.
        assert db.row_counts(url)["world"] == 10_000
    finally:
        reader.close()
        writer.close()
    assert _rows(url, "SELECT randomnumber FROM world WHERE id = 7") == [(1,)]


def test_connect_refuses_a_missing_sqlite_file(tmp_path: Path) -> None:
    with pytest.raises(db.DatabaseError, match="does not exist"):
        db.connect(db.sqlite_url(tmp_path / "typo.sqlite3"))
    assert not (tmp_path / "typo.sqlite3").exists()


# --- redaction -----------------------------------------------------------------


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://bench:s3cret@127.0.0.1:5432/bench", "postgresql://bench:***@127.0.0.1:5432/bench"),
    ("postgres://u:p%40ss@db.example:6543/x?sslmode=disable", "postgres://u:***@db.example:6543/x?sslmode=disable"),
    ("postgresql://u:p@ss/w@host/db", "postgresql://u:***@host/db"),  # unencoded @ and /
    ("postgresql://u:@host/db", "postgresql://u:***@host/db"),
    ("postgresql://host/db?user=u&password=hunter2&sslmode=require",
     "postgresql://host/db?user=u&password=***&sslmode=require"),
    ("host=127.0.0.1 user=u password='a b' dbname=x", "host=127.0.0.1 user=u password=*** dbname=x"),
])
def test_redact_hides_passwords(url: str, expected: str) -> None:
    assert db.redact(url) == expected


@pytest.mark.parametrize("url", [
    "postgresql://bench@127.0.0.1:5432/bench",
    "postgresql://127.0.0.1/bench",
    "postgresql:///bench?host=/var/run/postgresql",
    "sqlite:////tmp/bench.sqlite3",
    "sqlite:////tmp/odd:name@x.sqlite3",
])
def test_redact_leaves_passwordless_urls_alone(url: str) -> None:
    assert db.redact(url) == url


# --- errors --------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "mysql://root:topsecret@127.0.0.1/bench",
    "postgresql+psycopg://u:topsecret@127.0.0.1/bench",
    "bench.sqlite3",
    "",
])
def test_bad_scheme_is_one_line(url: str) -> None:
    for call in (db.seed, db.connect, db.row_counts):
        with pytest.raises(db.DatabaseError) as exc:
            call(url)
        msg = str(exc.value)
        assert msg.startswith("unsupported database URL scheme")
        assert "\n" not in msg
        assert "sqlite:////" in msg and "postgresql://" in msg  # the fix
        assert "topsecret" not in msg
    assert issubclass(db.DatabaseError, UserError)  # the CLI prints it as one line, exit 2


def test_sqlite_url_without_a_path_is_one_line() -> None:
    with pytest.raises(db.DatabaseError, match="no file path") as exc:
        db.seed("sqlite://")
    assert "\n" not in str(exc.value)


def test_missing_psycopg_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes `import psycopg` raise ImportError
    with pytest.raises(db.DatabaseError) as exc:
        db.seed("postgresql://u:topsecret@127.0.0.1:1/x")
    msg = str(exc.value)
    assert "psycopg is not installed" in msg and "pip install" in msg
    assert "\n" not in msg and "topsecret" not in msg


def test_unreachable_postgres_is_one_line() -> None:
    import socket

    with socket.socket() as s:  # a port that is certainly closed: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        url = f"postgresql://u:topsecret@127.0.0.1:{port}/x"
        with pytest.raises(db.DatabaseError) as exc:
            db.seed(url)
    msg = str(exc.value)
    assert msg.startswith(f"cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1:{port}/x")
    assert "start the server" in msg
    assert "\n" not in msg and "topsecret" not in msg


# --- a real PostgreSQL -----------------------------------------------------------


def test_seed_postgres(postgres_url: str) -> None:
    db.seed(postgres_url)
    _check_seeded(postgres_url)
    conn = db.connect(postgres_url)
    try:  # a reader must not sit idle in a transaction (it would block the next seed)
        assert conn.autocommit
        conn.execute("SELECT count(*) FROM world").fetchone()
        assert conn.info.transaction_status == 0  # psycopg.pq.TransactionStatus.IDLE
        db.seed(postgres_url)  # with that reader still connected
    finally:
        conn.close()
    db.seed(postgres_url)  # again: drop + create, same result
    _check_seeded(postgres_url)


def test_postgres_schema_needs_no_quoting(postgres_url: str) -> None:
    db.seed(postgres_url)
    cols = _rows(postgres_url, "SELECT table_name, column_name, data_type, is_nullable "
                               "FROM information_schema.columns WHERE table_schema = 'public' "
                               "ORDER BY table_name, ordinal_position")
    assert cols == [
        ("fortune", "id", "integer", "NO"), ("fortune", "message", "text", "NO"),
        ("world", "id", "integer", "NO"), ("world", "randomnumber", "integer", "NO"),
    ]


def test_postgres_listens_on_loopback_with_a_password(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://stackmark:") and "@127.0.0.1:" in postgres_url
    password = postgres_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert password and password not in db.redact(postgres_url)
    wrong = postgres_url.replace(f":{password}@", ":wrong-password@")
    with pytest.raises(db.DatabaseError) as exc:
        db.seed(wrong)
    msg = str(exc.value)
    assert "password authentication failed" in msg
    assert "wrong-password" not in msg and password not in msg and "\n" not in msg
    listen = _rows(postgres_url, "SELECT current_setting('listen_addresses')")
    assert listen == [("127.0.0.1",)]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_postgres_runs_as_the_postgres_user(postgres_url: str) -> None:
    """PostgreSQL refuses root: the test cluster's postmaster must run as `postgres`."""
    import pwd

    owners = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            uid = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            continue
        if argv[0].endswith(b"/postgres") and any(b"/stackmark-pg-" in a for a in argv):
            owners.add(pwd.getpwuid(uid).pw_name)
    assert owners == {"postgres"}


# --- the throwaway server itself ---------------------------------------------------


def test_pg_server_skips_without_binaries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pg_server import postgres_server

    monkeypatch.setenv("STACKMARK_PG_BINDIR", str(tmp_path))  # no initdb there
    monkeypatch.delenv("STACKMARK_REQUIRE_POSTGRES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="setup-postgres.sh"), postgres_server():
        pass


def test_pg_server_failed_start_shows_the_log_and_cleans_up() -> None:
    import glob
    import tempfile

    from pg_server import PostgresUnavailable, find_bindir, postgres_server

    if find_bindir() is None:
        pytest.skip("no PostgreSQL server binaries; run scripts/setup-postgres.sh")
    pattern = os.path.join(tempfile.gettempdir(), "stackmark-pg-*")
    before = set(glob.glob(pattern))
    with pytest.raises(PostgresUnavailable) as exc, postgres_server(settings={"shared_buffers": "lots"}):
        pass
    assert 'invalid value for parameter "shared_buffers"' in str(exc.value)
    assert set(glob.glob(pattern)) == before
