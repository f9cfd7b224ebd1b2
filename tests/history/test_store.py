"""The history store: what goes in comes back, split into series that never mix machines or
baselines; and it stays whole with two writers at once, a writer killed by ``kill -9``, and files
that are not what they should be.

The concurrency and kill tests use real child processes (multiprocessing, spawned so they share
nothing with this one) and a real SIGKILL. Nothing sleeps: a child says through a pipe when it
has written enough, and the parent kills it at once, wherever its loop happens to be.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import harness.history.store as store_module
from harness.history.records import Machine
from harness.history.series import QUALITY, THROUGHPUT, SeriesKey
from harness.history.store import APPLICATION_ID, SCHEMA_VERSION, HistoryError, HistoryStore

from fake_history import CASE, CHECK, GPU_BOX, LAPTOP, fake_quality, fake_session, fake_throughput
from strategies import session_records

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="kill -9 is POSIX")
CHILD_TIMEOUT_S = 300  # a safety net for a hung child on a busy machine, never a timing assertion


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "history" / "history.sqlite"


def pragma(path: Path, name: str):
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]


# --- what goes in comes back ---------------------------------------------------------------------


# Each example creates a SQLite file and commits to it, about 50-100 ms here (the commits' checkpoints
# sync the disk), so this property keeps the dev profile's count even under the ci profile.
@settings(max_examples=25)
@given(sessions=st.lists(session_records(), min_size=1, max_size=2))
def test_sessions_read_back_as_they_were_written(tmp_path_factory, sessions):
    store = HistoryStore(tmp_path_factory.mktemp("round-trip") / "history.sqlite")
    for session in sessions:
        store.append(session)
    assert store.sessions() == sorted(sessions, key=lambda session: session.time)


def test_a_new_store_marks_its_file_and_runs_in_wal_mode(path):
    HistoryStore(path)
    assert pragma(path, "application_id") == APPLICATION_ID
    assert pragma(path, "user_version") == SCHEMA_VERSION
    assert pragma(path, "journal_mode") == "wal"
    assert HistoryStore(path).sessions() == []  # and it opens again as it is


def test_an_empty_file_becomes_a_store(path):
    path.parent.mkdir(parents=True)
    path.touch()
    HistoryStore(path).append(fake_session(0))
    assert len(HistoryStore(path).sessions()) == 1


@pytest.fixture
def store(path) -> HistoryStore:
    """Six sessions on the laptop (checked against baseline a, then b from the fifth), three on the
    GPU box, written out of time order."""
    store = HistoryStore(path)
    for index in (0, 2, 1, 3):
        store.append(fake_session(index, throughput=(fake_throughput(samples_per_s=100.0 + index),)))
    for index in (4, 5):
        store.append(fake_session(index, quality=(fake_quality(identity="baseline-b", accuracy=0.8),)))
    for index in (6, 7, 8):
        store.append(fake_session(index, machine=GPU_BOX, quality=(),
                                  throughput=(fake_throughput(samples_per_s=500.0), fake_throughput("bert"))))
    return store


def test_a_throughput_series_never_mixes_machines_and_runs_in_time_order(store):
    laptop, gpu_box = store.throughput_series(CASE)
    assert (laptop.machine_key, gpu_box.machine_key) == (LAPTOP.key, GPU_BOX.key)
    assert laptop.commits == ("c0", "c1", "c2", "c3", "c4", "c5")
    np.testing.assert_array_equal(laptop.samples_per_s, [100, 101, 102, 103, 100, 100])
    assert {point.machine_key for point in gpu_box.points} == {GPU_BOX.key}
    assert store.throughput_series(CASE, machine_key=GPU_BOX.key) == [gpu_box]
    assert store.throughput_series(CASE, machine_key="elsewhere") == []


def test_a_quality_series_never_mixes_baseline_identities(store):
    a, b = store.quality_series(CHECK)
    assert (a.baseline_identity, a.commits) == ("baseline-a", ("c0", "c1", "c2", "c3"))
    assert (b.baseline_identity, b.commits) == ("baseline-b", ("c4", "c5"))
    np.testing.assert_allclose(b.means("accuracy"), [0.805, 0.805])
    assert store.quality_series(CHECK, baseline_identity="baseline-b") == [b]
    assert store.quality_series("no such check") == []


def test_a_series_can_be_cut_to_its_last_commits(store):
    store.append(fake_session(9, commit="c1", throughput=(fake_throughput(samples_per_s=99.0),)))  # c1 re-run
    [laptop] = store.throughput_series(CASE, machine_key=LAPTOP.key, last_commits=3)
    assert laptop.commits == ("c1", "c4", "c5", "c1")
    [a] = store.quality_series(CHECK, baseline_identity="baseline-a", last_commits=1)
    assert a.commits == ("c1", "c1")
    with pytest.raises(ValueError, match="last_commits must be a positive integer"):
        store.quality_series(CHECK, last_commits=0)


def test_the_series_keys_list_every_series_with_its_size(store):
    assert store.series_keys() == [
        SeriesKey(QUALITY, CHECK, "baseline-a", 4),
        SeriesKey(QUALITY, CHECK, "baseline-b", 2),
        SeriesKey(THROUGHPUT, "bert", GPU_BOX.key, 3),
        SeriesKey(THROUGHPUT, CASE, LAPTOP.key, 6),
        SeriesKey(THROUGHPUT, CASE, GPU_BOX.key, 3),
    ]


def test_a_failed_write_leaves_nothing_of_its_session(store, monkeypatch):
    before = store.sessions()

    def fail(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store_module, "_insert_throughput", fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.append(fake_session(10, commit="lost"))
    assert store.sessions() == before


# --- files that are not what they should be ------------------------------------------------------


def assert_names_the_file_and_the_fix(error: pytest.ExceptionInfo, path: Path, *fix: str) -> None:
    message = str(error.value)
    assert str(path) in message and "--harness-history" in message
    for words in fix:
        assert words in message


def test_a_file_of_random_bytes_is_refused_naming_the_file_and_the_fix(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(np.random.default_rng(0).bytes(8192))
    with pytest.raises(HistoryError) as error:
        HistoryStore(path)
    assert_names_the_file_and_the_fix(error, path, "not a readable harness history store", "move it aside")


def test_a_store_damaged_after_its_header_is_refused_when_read(store, path):
    with open(path, "r+b") as handle:  # keep page 1 (the header and schema), garble the rest
        handle.seek(4096)
        handle.write(np.random.default_rng(0).bytes(path.stat().st_size - 4096))
    with pytest.raises(HistoryError) as error:
        HistoryStore(path).sessions()
    assert_names_the_file_and_the_fix(error, path, "move it aside")


@pytest.mark.parametrize("setup", [
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)",
    "PRAGMA application_id = 42",
], ids=["tables, no application id", "another application id"])
def test_another_applications_database_is_refused_and_left_untouched(path, setup):
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(setup)
        connection.commit()
    before = path.read_bytes()
    with pytest.raises(HistoryError) as error:
        HistoryStore(path)
    assert_names_the_file_and_the_fix(error, path, "another application's SQLite database")
    assert path.read_bytes() == before and not path.with_name(path.name + "-wal").exists()


def test_a_folder_where_the_file_should_be_is_refused(path):
    path.mkdir(parents=True)
    with pytest.raises(HistoryError) as error:
        HistoryStore(path)
    assert_names_the_file_and_the_fix(error, path, "unable to open database file", "a folder you can write to")


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    (tmp_path / "history").write_text("not a folder")
    path = tmp_path / "history" / "history.sqlite"
    with pytest.raises(HistoryError) as error:
        HistoryStore(path)
    assert_names_the_file_and_the_fix(error, path, "cannot create the folder")


def test_a_newer_schema_is_refused(path):
    HistoryStore(path)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(HistoryError) as error:
        HistoryStore(path)
    assert_names_the_file_and_the_fix(error, path, f"schema version {SCHEMA_VERSION + 1}", "upgrade harness")


# Version 1 as it shipped, written here by hand so the test does not depend on the code it checks.
V1_SCHEMA = """
    CREATE TABLE sessions (id INTEGER PRIMARY KEY, commit_sha TEXT NOT NULL, branch TEXT, time TEXT NOT NULL,
                           cpu_model TEXT NOT NULL, gpu TEXT, cores INTEGER NOT NULL, versions TEXT NOT NULL);
    CREATE TABLE quality (session_id INTEGER NOT NULL REFERENCES sessions(id), check_name TEXT NOT NULL,
                          baseline TEXT NOT NULL, baseline_identity TEXT NOT NULL, run_identity TEXT NOT NULL,
                          verdict TEXT NOT NULL, runs_used INTEGER NOT NULL, runs TEXT NOT NULL,
                          boundaries TEXT NOT NULL, means TEXT NOT NULL, PRIMARY KEY (session_id, check_name));
    CREATE TABLE throughput (session_id INTEGER NOT NULL REFERENCES sessions(id), case_name TEXT NOT NULL,
                             device TEXT NOT NULL, precision TEXT NOT NULL, samples_per_s REAL NOT NULL,
                             samples_per_s_iqr REAL NOT NULL, rounds INTEGER NOT NULL,
                             PRIMARY KEY (session_id, case_name));
    INSERT INTO sessions VALUES (1, 'c0', 'main', '2026-05-01T00:00:00.000000+00:00', 'Test CPU 3000', NULL, 4, '{}');
    INSERT INTO sessions VALUES (2, 'c1', NULL, '2026-05-01T00:01:00.000000+00:00', 'Test  CPU 9000 ',
                                 'NVIDIA H100 80GB HBM3', 16, '{"torch": "2.13.0"}');
    INSERT INTO quality VALUES (1, 'check', 'mrpc-minilm', 'baseline-a', 'run-1', 'pass', 1,
                                '[{"seed": 42, "metrics": {"f1": 0.9}}]', '{"f1": {"fail_at": 0.8, "pass_at": null}}',
                                '{"f1": 0.9}');
    INSERT INTO throughput VALUES (1, 'case', 'cpu', 'fp32', 100.0, 2.0, 3);
    INSERT INTO throughput VALUES (2, 'case', 'cuda', 'bf16', 900.0, 9.0, 5);
"""


def write_v1(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript(V1_SCHEMA)
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute("PRAGMA user_version = 1")


def test_a_version_1_file_migrates_and_keeps_every_session(path):
    write_v1(path)
    store = HistoryStore(path)
    assert pragma(path, "user_version") == SCHEMA_VERSION == 4
    laptop, gpu_box = store.throughput_series("case")
    assert laptop.machine_key == Machine("Test CPU 3000", None, 4).key
    assert gpu_box.machine_key == GPU_BOX.key  # the key is spelled from the stored hardware, whitespace aside
    assert [point.record.samples_per_s for point in gpu_box.points] == [900.0]
    [series] = store.quality_series("check")
    assert series.points[0].record.boundaries["f1"].fail_at == 0.8
    assert series.points[0].record.baseline_means == {}  # recorded before version 3 kept them: none, not made up
    assert laptop.points[0].record.faults == ()  # recorded before version 4 kept faults: it ran with none
    assert [session.commit for session in store.sessions()] == ["c0", "c1"]
    store.append(fake_session(2))
    assert len(store.sessions()) == 3


def test_a_failed_migration_leaves_the_old_file_as_it_was(path, monkeypatch):
    write_v1(path)

    def half_then_fail(connection):
        connection.execute("ALTER TABLE sessions ADD COLUMN machine_key TEXT")
        raise RuntimeError("migration interrupted")

    monkeypatch.setattr(store_module, "MIGRATIONS", (store_module.MIGRATIONS[0], half_then_fail, *store_module.MIGRATIONS[2:]))
    with pytest.raises(RuntimeError, match="migration interrupted"):
        HistoryStore(path)
    assert pragma(path, "user_version") == 1
    with closing(sqlite3.connect(path)) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(sessions)")]
    assert "machine_key" not in columns


# --- two writers, and a writer killed ------------------------------------------------------------


def whole_session(index: int, *, commit: str) -> object:
    """A session of two checks and three cases: a store holding part of one is easy to spot."""
    return fake_session(index, commit=commit, quality=(fake_quality(), fake_quality("other check")),
                        throughput=(fake_throughput(), fake_throughput("bert"), fake_throughput("roberta")))


def write_sessions(path: str, writer: int, count: int, start) -> None:
    start.wait()  # both writers open the new file and write at the same moment
    store = HistoryStore(path)
    for index in range(count):
        store.append(whole_session(index, commit=f"writer{writer}-{index}"))


def write_until_killed(path: str, written) -> None:
    store = HistoryStore(path)
    for index in range(1_000_000):
        store.append(whole_session(index, commit=f"c{index}"))
        if index == 20:
            written.send("21 sessions written")


def die_mid_transaction(path: str) -> None:
    """Writes a session's row, its checks and one case, then kills itself before the COMMIT."""
    insert = store_module._insert_throughput

    def insert_then_die(*args):
        insert(*args)
        os.kill(os.getpid(), signal.SIGKILL)

    store_module._insert_throughput = insert_then_die
    HistoryStore(path).append(whole_session(999, commit="killed"))


def only_whole_sessions(path: Path) -> list[str]:
    """The commits in a store that opens, passes integrity_check and holds every session whole."""
    HistoryStore(path)  # opens, recovering what the WAL holds
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        shapes = connection.execute(
            "SELECT s.commit_sha, (SELECT count(*) FROM quality q WHERE q.session_id = s.id), "
            "(SELECT count(*) FROM throughput t WHERE t.session_id = s.id) FROM sessions s ORDER BY s.id").fetchall()
    assert {(checks, cases) for _, checks, cases in shapes} <= {(2, 3)}
    return [commit for commit, _, _ in shapes]


@pytest.fixture
def spawn():
    """Children that start fresh (no fork of this process's threads and open files), ended after the test."""
    context = multiprocessing.get_context("spawn")
    children = []

    def start(target, *args):
        child = context.Process(target=target, args=args)
        child.start()
        children.append(child)
        return child

    start.context = context
    yield start
    for child in children:
        if child.is_alive():
            child.kill()
        child.join()


def test_two_writers_at_once_lose_nothing(path, spawn):
    start = spawn.context.Barrier(2)
    writers = [spawn(write_sessions, str(path), writer, 50, start) for writer in (1, 2)]
    for writer in writers:
        writer.join(CHILD_TIMEOUT_S)
        assert writer.exitcode == 0
    commits = only_whole_sessions(path)
    assert sorted(commits) == sorted(f"writer{w}-{i}" for w in (1, 2) for i in range(50))


def test_processes_creating_one_new_store_at_once_all_open_it(path, spawn):
    """A race SQLite leaves to its caller: while another process is creating the file, it refuses the
    switch to WAL at once, without the busy wait. Before the store waited for it itself, a third of
    the races between three forked processes failed so; spawned ones meet less often, so this test
    can pass by luck, but never fails by it."""
    start = spawn.context.Barrier(4)
    openers = [spawn(write_sessions, str(path), opener, 1, start) for opener in range(4)]
    for opener in openers:
        opener.join(CHILD_TIMEOUT_S)
    assert [opener.exitcode for opener in openers] == [0] * 4
    assert sorted(only_whole_sessions(path)) == [f"writer{opener}-0" for opener in range(4)]


@POSIX_ONLY
def test_a_writer_killed_before_its_commit_leaves_its_session_absent(path, spawn):
    store = HistoryStore(path)
    for index in range(3):
        store.append(whole_session(index, commit=f"c{index}"))
    child = spawn(die_mid_transaction, str(path))
    child.join(CHILD_TIMEOUT_S)
    assert child.exitcode == -signal.SIGKILL  # it died where it meant to, inside the transaction
    assert only_whole_sessions(path) == ["c0", "c1", "c2"]
    store.append(whole_session(3, commit="c3"))  # and the lock died with it
    assert only_whole_sessions(path) == ["c0", "c1", "c2", "c3"]


@POSIX_ONLY
def test_a_writer_killed_wherever_it_is_leaves_only_whole_sessions(path, spawn):
    written, child_end = spawn.context.Pipe(duplex=False)
    child = spawn(write_until_killed, str(path), child_end)
    ready = multiprocessing.connection.wait([written, child.sentinel], CHILD_TIMEOUT_S)
    assert written in ready, f"the writer stopped before writing 21 sessions (exit code {child.exitcode})"
    os.kill(child.pid, signal.SIGKILL)
    child.join(CHILD_TIMEOUT_S)
    assert child.exitcode == -signal.SIGKILL
    commits = only_whole_sessions(path)
    assert commits[:21] == [f"c{index}" for index in range(21)] and commits == [f"c{i}" for i in range(len(commits))]


@pytest.mark.parametrize("damage", ["UPDATE quality SET runs = '{bad'", "UPDATE quality SET runs = '[{\"x\": 1}]'",
                                    "UPDATE throughput SET samples_per_s = 'abc'", "UPDATE sessions SET versions = 'nope'",
                                    "UPDATE throughput SET faults = '\"abc\"'",
                                    "UPDATE throughput SET faults = '{\"slow-steps-10\": 1}'",
                                    "UPDATE throughput SET faults = '[1]'"])
def test_a_row_damaged_by_hand_is_a_history_error_naming_the_file(store, path, damage):
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(damage)
        connection.commit()
    with pytest.raises(HistoryError, match="does not decode.*move it aside") as failure:
        store.sessions()
        store.quality_series(CHECK)
        store.throughput_series(CASE)
    assert str(path) in str(failure.value)
