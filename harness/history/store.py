"""The history store: every recorded session in one SQLite file, safe to share.

Why SQLite (the standard library's ``sqlite3``) rather than files per run: several writers at once
(xdist workers, parallel CI jobs on one runner) need a lock, and a crash needs atomicity; SQLite
gives both. The file runs in WAL mode, so readers never block the writer; a writer that finds the
file locked waits up to :data:`BUSY_TIMEOUT_S` instead of failing; and a session's records go in one
``BEGIN IMMEDIATE ... COMMIT`` transaction, so a writer killed half-way (``kill -9``) leaves the
session wholly absent, never half there.

The file says what it is: ``PRAGMA application_id`` marks it as a harness history and
``PRAGMA user_version`` holds its schema version. Opening something else (not SQLite, corrupt,
another application's database, a newer schema) is a :class:`HistoryError` that names the file and
what to do; an older schema is migrated in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from itertools import groupby
from pathlib import Path

from harness.history.records import (
    Boundary, Machine, QualityRecord, RunMetrics, SessionRecord, ThroughputRecord,
)
from harness.history.series import (
    QUALITY, THROUGHPUT, Point, QualitySeries, SeriesKey, ThroughputSeries, last_commits,
)

APPLICATION_ID = 0x48524E53  # "HRNS": marks the file as a harness history store
SCHEMA_VERSION = 4
BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another's transaction before giving up
FIX = "point --harness-history, `harness history --history` or [tool.harness] history at another file"


class HistoryError(ValueError):
    """The history file cannot be used as it is; the message names the file and the fix."""


def _create_v1(connection: sqlite3.Connection) -> None:
    """Version 1: sessions, and per session its quality checks and throughput cases."""
    _execute_each(connection, """
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            commit_sha TEXT NOT NULL,
            branch TEXT,
            time TEXT NOT NULL,
            cpu_model TEXT NOT NULL,
            gpu TEXT,
            cores INTEGER NOT NULL,
            versions TEXT NOT NULL
        );
        CREATE TABLE quality (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            check_name TEXT NOT NULL,
            baseline TEXT NOT NULL,
            baseline_identity TEXT NOT NULL,
            run_identity TEXT NOT NULL,
            verdict TEXT NOT NULL,
            runs_used INTEGER NOT NULL,
            runs TEXT NOT NULL,
            boundaries TEXT NOT NULL,
            means TEXT NOT NULL,
            PRIMARY KEY (session_id, check_name)
        );
        CREATE TABLE throughput (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            case_name TEXT NOT NULL,
            device TEXT NOT NULL,
            precision TEXT NOT NULL,
            samples_per_s REAL NOT NULL,
            samples_per_s_iqr REAL NOT NULL,
            rounds INTEGER NOT NULL,
            PRIMARY KEY (session_id, case_name)
        );
    """)


def _v1_to_v2(connection: sqlite3.Connection) -> None:
    """Version 2 stores each session's machine key and indexes the series' lookups.

    Version 1 derived the key from the CPU, GPU and cores in every query. Stored, a throughput series
    is one indexed lookup, and a later change to how keys are spelled cannot re-split old sessions.
    """
    connection.execute("ALTER TABLE sessions ADD COLUMN machine_key TEXT")
    rows = connection.execute("SELECT id, cpu_model, gpu, cores FROM sessions").fetchall()
    connection.executemany("UPDATE sessions SET machine_key = ? WHERE id = ?",
                           [(Machine(cpu, gpu, cores).key, row_id) for row_id, cpu, gpu, cores in rows])
    _execute_each(connection, """
        CREATE INDEX sessions_by_time ON sessions(time, id);
        CREATE INDEX quality_by_check ON quality(check_name, baseline_identity);
        CREATE INDEX throughput_by_case ON throughput(case_name);
    """)


def _execute_each(connection: sqlite3.Connection, script: str) -> None:
    """Run a script's statements one by one: ``executescript`` would first COMMIT the migration's
    transaction, and a crash after that would leave a half-migrated file."""
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


def _v2_to_v3(connection: sqlite3.Connection) -> None:
    """Version 3 keeps each quality check's baseline means, so a trend reads against its baseline;
    a check recorded before has none (an empty table), never a made-up one."""
    connection.execute("ALTER TABLE quality ADD COLUMN baseline_means TEXT NOT NULL DEFAULT '{}'")


def _v3_to_v4(connection: sqlite3.Connection) -> None:
    """Version 4 keeps the deliberate faults a throughput case ran with (a planted ``slow-steps-N``),
    so a step that was planted reads as planted; a case recorded before ran with none."""
    connection.execute("ALTER TABLE throughput ADD COLUMN faults TEXT NOT NULL DEFAULT '[]'")


# MIGRATIONS[v] takes a version-v file to version v + 1; a new file is version 0.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_create_v1, _v1_to_v2, _v2_to_v3, _v3_to_v4)
assert len(MIGRATIONS) == SCHEMA_VERSION


class HistoryStore:
    """The sessions recorded in one SQLite file (created on first use), and the series read from them.

    Opening checks the file and migrates an older schema; each method then opens its own connection,
    so a store can be handed to worker processes.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._open()

    def __repr__(self) -> str:
        return f"HistoryStore({str(self.path)!r})"

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode (transactions are explicit), with SQLite's errors as HistoryErrors."""
        try:
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)) as connection:
                connection.execute("PRAGMA foreign_keys = ON")
                yield connection
        except sqlite3.OperationalError as error:
            hint = (f"another process held it for more than {BUSY_TIMEOUT_S:g}s" if "locked" in str(error)
                    else "check that it is a file in a folder you can write to")
            raise HistoryError(f"cannot use the history store {self.path}: {error}; {hint}, or {FIX}") from error
        except sqlite3.DatabaseError as error:
            raise HistoryError(f"{self.path} is not a readable harness history store ({error}); move it aside "
                               f"to start a new history, or {FIX}") from error

    @contextmanager
    def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction. A writer's takes the write lock first (IMMEDIATE), so two writers queue
        instead of deadlocking; a reader's (plain BEGIN) reads one snapshot across its queries."""
        with self._connection() as connection:
            connection.execute(begin)
            try:
                yield connection
            except BaseException:
                if connection.in_transaction:  # SQLite has already rolled back after some errors
                    connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise HistoryError(f"cannot create the folder of the history store {self.path}: {error}; {FIX}") from error
        with self._connection() as connection:
            if self._version(connection) == SCHEMA_VERSION:
                return
            _switch_to_wal(connection)  # only once the file is known to be ours or new
        with self._transaction() as connection:
            version = self._version(connection)  # again: another process may have migrated meanwhile
            for migrate in MIGRATIONS[version:]:
                migrate(connection)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _version(self, connection: sqlite3.Connection) -> int:
        """The file's schema version (0 for a new, empty file), or a HistoryError if it is not ours to use."""
        application_id, version, tables = connection.execute(  # one statement, so one snapshot of a file
            "SELECT (SELECT * FROM pragma_application_id), (SELECT * FROM pragma_user_version), "  # others may
            "(SELECT count(*) FROM sqlite_master)").fetchone()  # be creating meanwhile
        if application_id == 0 and tables == 0:
            return 0
        if application_id != APPLICATION_ID:
            raise HistoryError(f"{self.path} is another application's SQLite database (application_id "
                               f"{application_id}), not a harness history store; {FIX}")
        if version > SCHEMA_VERSION:
            raise HistoryError(f"{self.path} is a harness history of schema version {version}, newer than this "
                               f"harness knows ({SCHEMA_VERSION}); upgrade harness to read it, or {FIX}")
        return version

    def append(self, session: SessionRecord) -> int:
        """Record a session and all its records in one transaction; returns its id in the store."""
        with self._transaction() as connection:
            session_id = _insert_session(connection, session)
            for quality in session.quality:
                _insert_quality(connection, session_id, quality)
            for throughput in session.throughput:
                _insert_throughput(connection, session_id, throughput)
        return session_id

    @contextmanager
    def _decoding(self) -> Iterator[None]:
        """A row that no longer decodes (edited by hand, damaged) is this file's problem, said as one."""
        try:
            yield
        except HistoryError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise HistoryError(f"{self.path} holds a record that does not decode ({type(error).__name__}: {error}); "
                               f"the store is damaged: move it aside, or {FIX}") from error

    def sessions(self) -> list[SessionRecord]:
        """Every session, oldest first, as it was recorded."""
        with self._decoding(), self._transaction("BEGIN") as connection:
            rows = connection.execute(f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY time, id").fetchall()
            quality = _children(connection, f"SELECT session_id, {_QUALITY_COLUMNS} FROM quality", _quality_record)
            throughput = _children(connection, f"SELECT session_id, {_THROUGHPUT_COLUMNS} FROM throughput",
                                   _throughput_record)
        with self._decoding():
            return [SessionRecord(commit, branch, time, Machine(cpu, gpu, cores), json.loads(versions),
                                  quality.get(row_id, ()), throughput.get(row_id, ()))
                    for row_id, commit, branch, time, cpu, gpu, cores, versions in rows]

    def quality_series(self, check: str, baseline_identity: str | None = None,
                       last_commits: int | None = None) -> list[QualitySeries]:
        """The check's series, one per baseline identity (only ``baseline_identity``'s when given),
        each oldest first and cut to its ``last_commits`` most recent commits."""
        where, parameters = "q.check_name = ?", [check]
        if baseline_identity is not None:
            where, parameters = where + " AND q.baseline_identity = ?", parameters + [baseline_identity]
        rows = self._points(f"SELECT q.baseline_identity, {_POINT_COLUMNS}, {_QUALITY_COLUMNS} FROM quality q "
                            f"JOIN sessions s ON s.id = q.session_id WHERE {where}", parameters)
        with self._decoding():
            return [QualitySeries(check, identity, _cut(points, _quality_record, last_commits))
                    for identity, points in rows]

    def throughput_series(self, case: str, machine_key: str | None = None,
                          last_commits: int | None = None) -> list[ThroughputSeries]:
        """The case's series, one per machine (only ``machine_key``'s when given), each oldest first
        and cut to its ``last_commits`` most recent commits."""
        where, parameters = "t.case_name = ?", [case]
        if machine_key is not None:
            where, parameters = where + " AND s.machine_key = ?", parameters + [machine_key]
        rows = self._points(f"SELECT s.machine_key, {_POINT_COLUMNS}, {_THROUGHPUT_COLUMNS} FROM throughput t "
                            f"JOIN sessions s ON s.id = t.session_id WHERE {where}", parameters)
        with self._decoding():
            return [ThroughputSeries(case, key, _cut(points, _throughput_record, last_commits)) for key, points in rows]

    def _points(self, query: str, parameters: list[str]) -> list[tuple[str, list[tuple]]]:
        """Rows grouped by their first column (the split), the groups in order of first appearance."""
        with self._connection() as connection:
            rows = connection.execute(query + " ORDER BY s.time, s.id", parameters).fetchall()
        groups: dict[str, list[tuple]] = {}
        for row in rows:
            groups.setdefault(row[0], []).append(row[1:])
        return list(groups.items())

    def series_keys(self) -> list[SeriesKey]:
        """Every series the store holds, quality first, each with its number of points."""
        with self._transaction("BEGIN") as connection:
            quality = connection.execute(
                "SELECT check_name, baseline_identity, count(*) FROM quality "
                "GROUP BY check_name, baseline_identity ORDER BY check_name, baseline_identity").fetchall()
            throughput = connection.execute(
                "SELECT t.case_name, s.machine_key, count(*) FROM throughput t JOIN sessions s ON s.id = t.session_id "
                "GROUP BY t.case_name, s.machine_key ORDER BY t.case_name, s.machine_key").fetchall()
        return ([SeriesKey(QUALITY, *row) for row in quality]
                + [SeriesKey(THROUGHPUT, *row) for row in throughput])


def _switch_to_wal(connection: sqlite3.Connection) -> None:
    """Put the file in WAL mode (a no-op once it is). While another process holds a new file, SQLite
    refuses the switch at once, without the busy wait, so the wait is here."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "database is locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


_SESSION_COLUMNS = "id, commit_sha, branch, time, cpu_model, gpu, cores, versions"
_POINT_COLUMNS = "s.commit_sha, s.branch, s.time, s.machine_key"
_QUALITY_COLUMNS = ("check_name, baseline, baseline_identity, run_identity, verdict, runs_used, runs, boundaries, means, "
                    "baseline_means")
_THROUGHPUT_COLUMNS = "case_name, device, precision, samples_per_s, samples_per_s_iqr, rounds, faults"


def _insert_session(connection: sqlite3.Connection, session: SessionRecord) -> int:
    machine = session.machine
    cursor = connection.execute(
        "INSERT INTO sessions (commit_sha, branch, time, cpu_model, gpu, cores, versions, machine_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (session.commit, session.branch, session.time, machine.cpu_model, machine.gpu, machine.cores,
         json.dumps(session.versions), machine.key))
    return int(cursor.lastrowid)


def _insert_quality(connection: sqlite3.Connection, session_id: int, record: QualityRecord) -> None:
    runs = [{"seed": run.seed, "metrics": run.metrics} for run in record.runs]
    boundaries = {metric: {"fail_at": b.fail_at, "pass_at": b.pass_at} for metric, b in record.boundaries.items()}
    connection.execute(
        f"INSERT INTO quality (session_id, {_QUALITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (session_id, record.check, record.baseline, record.baseline_identity, record.run_identity, record.verdict,
         record.runs_used, json.dumps(runs), json.dumps(boundaries), json.dumps(record.means),
         json.dumps(record.baseline_means)))


def _insert_throughput(connection: sqlite3.Connection, session_id: int, record: ThroughputRecord) -> None:
    connection.execute(
        f"INSERT INTO throughput (session_id, {_THROUGHPUT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (session_id, record.case, record.device, record.precision, record.samples_per_s, record.samples_per_s_iqr,
         record.rounds, json.dumps(list(record.faults))))


def _quality_record(row: tuple) -> QualityRecord:
    check, baseline, identity, run_identity, verdict, runs_used, runs, boundaries, means, baseline_means = row
    return QualityRecord(
        check, baseline, identity, run_identity, verdict, runs_used,
        tuple(RunMetrics(run["seed"], run["metrics"]) for run in json.loads(runs)),
        {metric: Boundary(**b) for metric, b in json.loads(boundaries).items()},
        json.loads(means), json.loads(baseline_means))


def _throughput_record(row: tuple) -> ThroughputRecord:
    *fields, faults = row
    names = json.loads(faults)
    if not isinstance(names, list):
        raise ValueError(f"a throughput row's faults must be a JSON list of fault names, got {faults!r}")
    return ThroughputRecord(*fields, faults=tuple(names))


def _children(connection: sqlite3.Connection, query: str, build: Callable[[tuple], object]) -> dict[int, tuple]:
    """A child table's records by session id, in the order they were written."""
    rows = connection.execute(query + " ORDER BY session_id, rowid").fetchall()
    return {session_id: tuple(build(row[1:]) for row in group)
            for session_id, group in groupby(rows, key=lambda row: row[0])}


def _cut(rows: list[tuple], build: Callable[[tuple], object], count: int | None) -> tuple[Point, ...]:
    """Rows of (commit, branch, time, machine key, *record columns) as points, cut to the last commits."""
    points = [Point(commit, branch, time, key, build(rest)) for commit, branch, time, key, *rest in rows]
    return last_commits(points, count)
