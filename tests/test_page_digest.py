"""The weekly digest page through Streamlit's AppTest, against the sandbox over loopback: the same
figures as `python -m lib.cli digest` for the same week, and never a digest of part of one."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from lib.outreach import QuotaExhausted
from lib.ui import cache
from tests.apptest_tools import TZ, open_page, set_app_env, shown
from tests.conftest import pinned_now, sandbox_now

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/digest.py"


@pytest.fixture
def app_env(sandbox, monkeypatch, tmp_path) -> None:
    # The app's zone is America/Los_Angeles (tests/apptest_tools.py): NOW, Wednesday 18
    # November 2026 09:00 there, makes 9 to 15 November the last complete week.
    set_app_env(monkeypatch, sandbox.base_url, sandbox.full_token, tmp_path / "sandbox.sqlite",
                now=pinned_now(sandbox))


def cli_digest(sandbox, *args: str) -> list[str]:
    """`python -m lib.cli digest` with the app's settings (this process's environment, as the
    app_env fixture set it), on the sandbox's clock as it reads when the CLI starts."""
    env = {**os.environ, "CALLBOARD_NOW": sandbox_now(sandbox)}
    result = subprocess.run([sys.executable, "-m", "lib.cli", "digest", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def section(lines: list[str], heading: str) -> list[str]:
    """The lines under a heading of the text digest, up to the blank line that ends it."""
    start = lines.index(heading) + 1
    return lines[start:lines.index("", start)]


def assert_cards_are_the_lines(metrics, captions, lines: list[str], with_rank: bool) -> None:
    """Each card (label, value, change, counts) is the CLI's line of that figure."""
    assert len(metrics) == len(lines)
    for rank, (metric, caption, line) in enumerate(zip(metrics, captions, lines, strict=True),
                                                   1):
        label = shown(metric.label).removesuffix(" ⚠")
        prefix = f"  {rank}. " if with_rank else "  "
        assert line.startswith(f"{prefix}{label}: {metric.value}"), (line, label, metric.value)
        if metric.delta:
            assert f", {metric.delta}" in line
        now_counts, _, before_counts = caption.partition(" · was ")
        if before_counts:  # a rate: its counts this week and last, in that order
            assert f"{metric.value} ({now_counts})" in line
            assert f"({before_counts.removesuffix(' · too few calls to judge')})" in line
        else:
            assert line.split(", was ")[1].startswith(now_counts.removeprefix("was "))


def test_the_page_shows_the_clis_digest_of_the_last_complete_week(sandbox, app_env):
    app = open_page(PAGE)
    assert not app.error
    lines = cli_digest(sandbox, "--week")
    assert lines[0] == "Callboard weekly digest: Mon 09 Nov – Sun 15 Nov 2026"
    assert app.title[0].value == "Weekly digest"
    assert any(c.value == "Mon 09 Nov – Sun 15 Nov 2026 · " + lines[1] for c in app.caption)

    biggest = section(lines, "Biggest changes")[:-1]  # the last line says how they are ranked
    unjudged = section(lines, "Not ranked: too few calls to judge (fewer than 20)") \
        if "Not ranked: too few calls to judge (fewer than 20)" in lines else []
    team = section(lines, "Team")
    assert len(biggest) == 5 and len(team) == 7
    metrics = list(app.metric)
    # Under each card, its counts: "357 of 1,437 outbound calls · was ...", or "was 1,673".
    captions = [c.value for c in app.main.caption if re.match(r"(was |[\d,]+ of )", c.value)]
    shown_biggest = len(biggest)
    shown_team = shown_biggest + len(unjudged)
    assert_cards_are_the_lines(metrics[:shown_biggest], captions[:shown_biggest], biggest, True)
    assert_cards_are_the_lines(metrics[shown_team:shown_team + 7],
                               captions[shown_team:shown_team + 7], team, False)
    # Every card defines its figure on hover.
    assert all(metric.help for metric in metrics)
    connect = next(m for m in metrics[shown_team:] if m.label == "Connect rate")
    assert connect.help.startswith("Outbound calls whose disposition counts as connected")
    assert "Connected: " in connect.help  # the outcome mapping behind it

    # One expander per rep with calls, each holding that rep's seven cards.
    reps = [line.strip() for line in section(lines, "Reps") if line.startswith("  ")
            and not line.startswith("    ") and not line.startswith("  No calls")]
    assert [shown(e.label).split(" · ")[0] for e in app.expander] == reps
    assert len(metrics) == shown_team + 7 + 7 * len(reps)


def test_a_week_picked_on_the_page_is_the_clis_week_of(sandbox, app_env):
    app = open_page(PAGE)
    app.date_input(key="digest_week").set_value(date(2026, 11, 4)).run()
    assert not app.exception and not app.error
    lines = cli_digest(sandbox, "--week-of", "2026-11-04")
    assert any(c.value == "Mon 02 Nov – Sun 08 Nov 2026 · " + lines[1] for c in app.caption)
    assert lines[1].startswith(f"A Monday–Sunday week in {TZ}")  # the app's zone
    team = section(lines, "Team")
    calls = next(m for m in app.metric if m.label == "Calls")
    assert team[0].startswith(f"  Calls: {calls.value}, was ")


def test_a_partly_loaded_week_is_said_never_shown_as_a_digest(app_env, monkeypatch):
    read = cache.calls_for_figures
    stopped = QuotaExhausted("GET /1.0/calls needs 400 more requests", share=0.5, limit=10000,
                             retry_at=None)

    def partly(after, before, user_ids):
        # The quota share ran out part way through the week before (as DataSource says it).
        loaded = read(after, before, user_ids)
        if after.date() < date(2026, 11, 9):
            return dataclasses.replace(loaded, loaded=0.4, stopped_by=stopped)
        return loaded

    monkeypatch.setattr(cache, "calls_for_figures", partly)
    app = open_page(PAGE)
    assert not app.metric and not app.expander
    warning = shown(app.warning[0].value)
    assert warning.startswith("**The digest needs both weeks whole, so it is not shown yet.** "
                              "Loaded so far: 40 % of Mon 02 Nov – Sun 08 Nov 2026. Callboard "
                              "has used its share of your Outreach requests for this hour")
    assert warning.endswith("What is loaded is kept; the rest is read at the next visit or "
                            "Refresh.")
    assert len(app.warning) == 1
