"""The CLI end to end: `python -m lib.cli` in a subprocess against the sandbox over loopback."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lib.analytics import figures
from lib.sandbox import Sandbox
from tests.conftest import NOW, WORKDAY, sandbox_now
from tests.expected_calls import expected_calls

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


def base_env(tmp_path: Path) -> dict[str, str]:
    """The environment minus any Outreach settings of the machine running the tests."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OUTREACH_", "CALLBOARD_"))}
    env["CALLBOARD_SANDBOX_DB"] = str(tmp_path / "sandbox.sqlite")
    env["CALLBOARD_CACHE_DB"] = str(tmp_path / "calls.sqlite")
    return env


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    """The CLI against the session sandbox, on the sandbox's clock (CALLBOARD_NOW)."""
    return {**base_env(tmp_path), "OUTREACH_API_BASE": sandbox.base_url,
            "OUTREACH_ACCESS_TOKEN": sandbox.full_token, "CALLBOARD_NOW": sandbox_now(sandbox)}


def recent_range(days: int = 10) -> tuple[date, date]:
    """`days` local days of the pinned history ending on WORKDAY, the day before NOW's: all
    closed (NOW is 17:00 UTC), all within the 30 days of history in any of the zones used."""
    return WORKDAY - timedelta(days=days - 1), WORKDAY


def expected_rows(sandbox: Sandbox, start: date, end: date, tz: str,
                  users: set[int] | None = None) -> list[dict]:
    """What the sandbox holds for those local days, read from its raw records by the tests'
    own code (tests/expected_calls.py), never by the client's parser."""
    zone = ZoneInfo(tz)
    low = datetime.combine(start, datetime.min.time(), zone)
    high = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone)
    return expected_calls(sandbox, low, high, users).to_dict("records")


def test_export_csv_holds_exactly_the_sandbox_calls(sandbox, env):
    start, end = recent_range()
    result = run_cli("export", "--start", str(start), "--end", str(end), "--tz", "Europe/Berlin",
                     env=env)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = expected_rows(sandbox, start, end, "Europe/Berlin")
    assert len(expected) > 100
    assert [int(r["id"]) for r in rows] == [r["id"] for r in expected]
    assert [r["user_id"] for r in rows] == [str(r["user_id"]) for r in expected]
    assert [r["outbound"] for r in rows] == [str(r["outbound"]) for r in expected]
    assert {"id", "created_at", "user_id", "outbound", "disposition_id"} <= set(rows[0])
    first = datetime.fromisoformat(rows[0]["created_at"].replace("Z", "+00:00"))
    assert first == expected[0]["created_at"]
    assert "sandbox" not in result.stderr  # credentials given: no demo notice


def test_export_csv_is_raw_unless_asked_to_be_spreadsheet_safe(sandbox, env, tmp_path):
    start, end = recent_range(days=3)
    days = ["--start", str(start), "--end", str(end)]
    raw = list(csv.DictReader(io.StringIO(run_cli("export", *days, env=env).stdout)))
    expected = expected_rows(sandbox, start, end, "UTC")
    assert len(raw) == len(expected) > 0
    # Machine-readable by default: numbers exactly as Outreach holds them.
    assert [r["to_number"] for r in raw] == [r["to_number"] for r in expected]
    assert all(r["to_number"].startswith("+") for r in raw if r["to_number"])
    safe = run_cli("export", *days, "--spreadsheet-safe", env=env)
    assert safe.returncode == 0, safe.stderr
    safe_rows = list(csv.DictReader(io.StringIO(safe.stdout)))
    # E.164 numbers are plain numbers: a spreadsheet reads them, never runs them.
    assert [r["to_number"] for r in safe_rows] == [r["to_number"] for r in raw]


def test_export_json_filters_by_user_and_survives_faults(sandbox, env, configure_sandbox):
    configure_sandbox(fault_rate=0.2)
    start, end = recent_range(days=20)
    result = run_cli("export", "--start", str(start), "--end", str(end), "--user", "2",
                     "--user", "4", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    expected = expected_rows(sandbox, start, end, "UTC", users={2, 4})
    assert {r["user_id"] for r in expected} == {2, 4}
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    assert {r["user_id"] for r in rows} == {2, 4}
    assert [r["disposition_id"] for r in rows] == [r["disposition_id"] for r in expected]


def test_export_writes_the_file_whole_or_not_at_all(sandbox, env, tmp_path, configure_sandbox):
    start, end = recent_range(days=3)
    target = tmp_path / "calls.csv"
    ok = run_cli("export", "--start", str(start), "--end", str(end), "--output", str(target),
                 env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == ""
    written = target.read_text()
    expected = expected_rows(sandbox, start, end, "UTC")
    assert len(expected) > 0 and len(written.splitlines()) == len(expected) + 1

    # Every request fails: the read gives up, and the earlier file stays as it was. An empty
    # store, so that the days must come from the API rather than from the first run's store.
    configure_sandbox(fault_rate=1.0)
    env = {**env, "CALLBOARD_CACHE_DB": str(tmp_path / "empty-store.sqlite")}
    failed = run_cli("export", "--start", str(start), "--end", str(end), "--output", str(target),
                     env=env, timeout=300)
    assert failed.returncode == 1
    assert failed.stderr.startswith("callboard: ")
    assert len(failed.stderr.strip().splitlines()) == 1
    assert "Traceback" not in failed.stderr
    assert target.read_text() == written
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".calls")] == []


def test_export_into_a_pipe_writes_into_it_and_leaves_it_a_pipe(sandbox, env, tmp_path):
    # As `--output /dev/stdout` or `/dev/null` would be: renamed over, the device would become
    # a plain file (run as root, /dev/null itself).
    pipe = tmp_path / "calls.pipe"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()), daemon=True)
    reader.start()
    start, end = recent_range(days=1)
    done = run_cli("export", "--start", str(start), "--end", str(end), "--output", str(pipe),
                   env=env)
    assert done.returncode == 0, done.stderr
    reader.join(timeout=60)  # only a guard: the reader ends as soon as the writer closes
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert received and received[0].startswith("id,")
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".calls.pipe")]


def test_summary_equals_the_metric_functions(sandbox, env):
    start, end = recent_range(days=14)
    tz = "America/New_York"
    result = run_cli("summary", "--start", str(start), "--end", str(end), "--tz", tz, env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)

    calls = expected_calls(sandbox)
    zone = ZoneInfo(tz)
    local_day = calls["created_at"].dt.tz_convert(zone).dt.date
    current = calls[(local_day >= start) & (local_day <= end)]
    assert len(current) > 0 and summary["calls"] == len(current)
    assert summary["outbound"] == int(current["outbound"].sum())
    assert summary["inbound"] == len(current) - int(current["outbound"].sum())
    assert summary["outbound_share"]["value"] == pytest.approx(current["outbound"].mean())
    assert sum(summary["by_user"].values()) == len(current)
    assert summary["by_user"]["3"] == int((current["user_id"] == 3).sum())
    assert sum(summary["by_disposition"].values()) == len(current)
    no_disposition = int(current["disposition_id"].isna().sum())
    assert summary["by_disposition"]["No disposition"] == no_disposition

    # Connect rate by hand: outbound calls whose disposition's outcome is Answered.
    from lib.sandbox.data import ANSWERED_IDS  # the sandbox's own lookup, not the client's

    answered = set(ANSWERED_IDS)
    outbound = current[current["outbound"]]
    connected = int(outbound["disposition_id"].isin(answered).sum())
    assert summary["connect_rate"]["numerator"] == connected
    assert summary["connect_rate"]["denominator"] == len(outbound)

    previous_start, previous_end = figures.previous_period(start, end)
    before = calls[(local_day >= previous_start) & (local_day <= previous_end)]
    assert len(before) > 0  # the previous period is within the pinned history too
    assert summary["previous"]["start"] == previous_start.isoformat()
    assert summary["previous"]["calls"] == len(before)
    assert summary["deltas"]["calls"] == len(current) - len(before)
    assert summary["filters"]["tz"] == tz


def test_bad_arguments_and_bad_credentials_give_one_clear_line(sandbox, env, tmp_path):
    bad_date = run_cli("summary", "--start", "2026-13-01", "--end", "2026-12-02", env=env)
    assert bad_date.returncode == 1
    assert "--start '2026-13-01' is not a date" in bad_date.stderr

    backwards = run_cli("summary", "--start", "2026-11-02", "--end", "2026-11-01", env=env)
    assert backwards.returncode == 1 and "before --start" in backwards.stderr

    bad_zone = run_cli("summary", "--start", "2026-11-01", "--end", "2026-11-02",
                       env={**env, "CALLBOARD_TIMEZONE": "Mars/Olympus"})
    assert bad_zone.returncode == 1 and "CALLBOARD_TIMEZONE" in bad_zone.stderr

    wrong = "not-a-real-token-123"
    denied = run_cli("summary", "--start", "2026-11-01", "--end", "2026-11-02",
                     env={**env, "OUTREACH_ACCESS_TOKEN": wrong})
    assert denied.returncode == 1
    assert len(denied.stderr.strip().splitlines()) == 1
    assert wrong not in denied.stderr and "Traceback" not in denied.stderr


def test_without_credentials_it_starts_the_sandbox_and_says_so(tmp_path):
    # CALLBOARD_NOW pins the CLI and the demo sandbox it starts to NOW: the week up to WORKDAY
    # holds five working days of the demo's history.
    start, end = recent_range(days=7)
    result = run_cli("summary", "--start", str(start), "--end", str(end),
                     env={**base_env(tmp_path), "CALLBOARD_NOW": NOW.isoformat()})
    assert result.returncode == 0, result.stderr
    assert "demo data" in result.stderr
    assert json.loads(result.stdout)["calls"] > 0
    assert (tmp_path / "sandbox.sqlite").exists()


def test_export_over_api_v2_adds_v2s_own_fields(sandbox, env):
    start, end = recent_range(days=3)
    result = run_cli("export", "--start", str(start), "--end", str(end), "--format", "json",
                     env={**env, "OUTREACH_API_VERSION": "2"})
    assert result.returncode == 0, result.stderr
    exported = json.loads(result.stdout)
    expected = expected_rows(sandbox, start, end, "UTC")
    assert len(expected) > 0
    assert [row["id"] for row in exported] == [row["id"] for row in expected]
    sent = {record["id"]: record["attributes"] for record in sandbox.all_calls("2")}

    def same_time(shown: str | None, original: str | None) -> bool:
        if original is None:
            return shown is None
        return datetime.fromisoformat(shown.replace("Z", "+00:00")) == \
            datetime.fromisoformat(original.replace("Z", "+00:00"))

    for row in exported:
        attributes = sent[row["id"]]
        assert (row["outcome"], row["state"]) == (attributes["outcome"], attributes["state"])
        for column, key in (("dialed_at", "dialedAt"), ("answered_at", "answeredAt"),
                            ("completed_at", "completedAt")):
            assert same_time(row[column], attributes[key]), (row["id"], column)
    assert any(row["answered_at"] is None for row in exported)  # unanswered: null, not a time
    on_1_0 = run_cli("export", "--start", str(start), "--end", str(end), "--format", "json",
                     env={**env, "OUTREACH_API_VERSION": "1.0"})
    assert on_1_0.returncode == 0, on_1_0.stderr
    assert "outcome" not in json.loads(on_1_0.stdout)[0]


def test_v2_output_has_the_same_shape_with_or_without_calls(sandbox, env):
    """A script reading the CSV header or the summary's keys must not see them change with
    the data: on v2 a range without calls still has v2's columns and an `answers` section."""
    v2 = {**env, "OUTREACH_API_VERSION": "2"}
    busy, quiet = recent_range(days=3), ("2020-01-01", "2020-01-02")  # before any call
    headers = []
    for start, end in (busy, quiet):
        export = run_cli("export", "--start", str(start), "--end", str(end), "--format", "csv",
                         env=v2)
        assert export.returncode == 0, export.stderr
        lines = export.stdout.splitlines()
        assert (len(lines) > 1) == ((start, end) == busy)  # calls, and none before any call
        headers.append(lines[0])
    assert headers[0] == headers[1] and "outcome" in headers[0].split(",")

    summary = run_cli("summary", "--start", quiet[0], "--end", quiet[1], env=v2)
    assert summary.returncode == 0, summary.stderr
    answers = json.loads(summary.stdout)["answers"]
    assert answers["answer_rate"] is None and answers["by_outcome"] == {}
    assert answers["talk_by_user"] == answers["talk_by_disposition"] == {}
    on_1_0 = run_cli("summary", "--start", quiet[0], "--end", quiet[1],
                     env={**env, "OUTREACH_API_VERSION": "1.0"})
    assert on_1_0.returncode == 0 and "answers" not in json.loads(on_1_0.stdout)


@pytest.mark.parametrize("user", ["0", "-1", "99999999999999999999", "3x"])
def test_a_user_id_that_is_not_a_positive_number_is_refused_before_anything_is_read(
        sandbox, env, user):
    # -1 is the store's "every user" marker: taken as an id it would read every rep's calls.
    before = sandbox.request_count
    result = run_cli("summary", "--start", "2026-11-01", "--end", "2026-11-02", "--user", user,
                     env=env)
    assert result.returncode != 0 and result.stdout == ""
    assert (f"argument --user: '{user}' is not an Outreach user id: ids are whole numbers "
            "from 1 up.") in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.request_count == before


@pytest.mark.parametrize(("start", "end"), [("0001-01-01", "0001-01-03"),
                                            ("9999-12-30", "9999-12-31"),
                                            ("1999-12-30", "2000-01-02")])
def test_days_outside_the_calendar_callboard_reads_get_one_line_not_a_traceback(
        sandbox, env, start, end):
    before = sandbox.request_count
    result = run_cli("summary", "--start", start, "--end", end, env=env)
    assert result.returncode == 1 and result.stdout == ""
    assert "is outside 2000-01-01 to 2999-12-31" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sandbox.request_count == before


def test_sync_keeps_the_store_current_for_cron_and_export_reads_from_it(sandbox, env):
    # A first sync with --days loads the last days; a later export of them asks nothing more.
    result = run_cli("sync", "--days", "4", env=env)
    assert result.returncode == 0, result.stderr
    assert "Synced as of" in result.stderr and "100 % loaded" in result.stderr
    # The worker leaves every day's figure columns packed: the dashboard's overview only reads.
    with sqlite3.connect(env["CALLBOARD_CACHE_DB"]) as stored:
        days, unpacked = stored.execute(
            "SELECT COUNT(*), SUM(built IS NULL OR built != version) FROM call_facts").fetchone()
    assert days >= 4 and unpacked == 0
    sandbox.reset_request_count()
    start, end = WORKDAY - timedelta(days=1), WORKDAY
    result = run_cli("export", "--start", str(start), "--end", str(end), "--tz", "UTC",
                     env={**env, "CALLBOARD_NOW": sandbox_now(sandbox)})
    assert result.returncode == 0, result.stderr
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(result.stdout))] == \
        [r["id"] for r in expected_rows(sandbox, start, end, "UTC")]
    assert sandbox.request_count <= 2  # who the token is (/1.0/info), nothing of the calls

    result = run_cli("sync", env={**env, "CALLBOARD_CACHE_DB": "off"})
    assert result.returncode == 1 and "no store to sync" in result.stderr
    result = run_cli("sync", "--days", "-3", env=env)
    assert result.returncode == 2 and "from 0 to 366" in result.stderr


def test_sync_every_is_a_worker_that_keeps_syncing(sandbox, env):
    result = run_cli("sync", "--every", "1s", "--runs", "2", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Synced as of") == 2
    for bad, said in (("0s", "from 1s to 24h"), ("soon", "from 1s to 24h"),
                      ("25h", "from 1s to 24h")):
        result = run_cli("sync", "--every", bad, env=env)
        assert result.returncode == 2 and said in result.stderr
    result = run_cli("sync", "--every", "1s", "--runs", "0", env=env)
    assert result.returncode == 2 and "--runs is a whole number" in result.stderr


def test_the_worker_says_a_store_failure_and_keeps_going(sandbox, env, postgres):
    # A database holding another application's "calls" table: every sync is refused with a
    # sentence, the worker says so and tries again; a single sync exits non-zero.
    from sqlalchemy import create_engine, text

    url = postgres.create_database("not_callboards")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE calls (ticket integer)"))
    engine.dispose()
    worker = {**env, "CALLBOARD_DATABASE_URL": url}
    result = run_cli("sync", "--every", "1s", "--runs", "2", env=worker)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("the sync failed, trying again in 1 s: The database "
                               "postgresql://") == 2
    assert "Traceback" not in result.stderr and "that Callboard did not make" in result.stderr
    once = run_cli("sync", env=worker)
    assert once.returncode == 1 and "Traceback" not in once.stderr
    assert "give Callboard a database of its own" in once.stderr
