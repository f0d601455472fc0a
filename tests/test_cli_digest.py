"""`python -m lib.cli digest` end to end: against the sandbox over loopback, writing its files,
and sending them to a real local SMTP server (aiosmtpd) that the test starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from lib.sandbox import Sandbox
from lib.settings import Settings
from tests.conftest import sandbox_now
from tests.expected_calls import expected_calls

ROOT = Path(__file__).resolve().parent.parent
TZ = "Europe/Berlin"
# NOW (tests/conftest.py) is Wednesday 18 November 2026: the last complete week in Berlin is
# Monday 9 to Sunday 15 November, the week before it 2 to 8 November.
SUBJECT = "Callboard weekly digest: Mon 09 Nov – Sun 15 Nov 2026"
PASSWORD = "digest-pass-Zq83"


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    """The CLI against the session sandbox on its clock, with none of the machine's settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "CALLBOARD_"))}
    return {**clean, "OUTREACH_API_BASE": sandbox.base_url,
            "OUTREACH_ACCESS_TOKEN": sandbox.full_token, "CALLBOARD_NOW": sandbox_now(sandbox),
            "CALLBOARD_TIMEZONE": TZ, "CALLBOARD_SANDBOX_DB": str(tmp_path / "sandbox.sqlite"),
            "CALLBOARD_CACHE_DB": str(tmp_path / "calls.sqlite")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every envelope it is given."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's
        self.envelopes.append(envelope)
        return "250 Message accepted"


def _only_this_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"digest"
          and auth_data.password == PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1 (no TLS, as a local relay), stopped after the test."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def smtp_server_with_login() -> Iterator[tuple[Inbox, int]]:
    """The same, asking for a login (over plain SMTP: it is on this machine)."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port,
                            authenticator=_only_this_login, auth_require_tls=False)
    controller.start()
    yield inbox, port
    controller.stop()


def mail_env(env: dict[str, str], port: int, **extra: str) -> dict[str, str]:
    return {**env, "CALLBOARD_SMTP_HOST": "127.0.0.1", "CALLBOARD_SMTP_PORT": str(port),
            "CALLBOARD_SMTP_STARTTLS": "off",
            "CALLBOARD_SMTP_FROM": "Callboard <callboard@northwind.example>",
            "CALLBOARD_DIGEST_TO": "lead@northwind.example, ops@northwind.example", **extra}


def week_calls(sandbox: Sandbox, first: str, last: str):
    """The sandbox's calls of those local days in Berlin, read from its raw records by the
    tests' own code (tests/expected_calls.py), never by the client."""
    calls = expected_calls(sandbox)
    day = calls["created_at"].dt.tz_convert(ZoneInfo(TZ)).dt.date.astype(str)
    return calls[(day >= first) & (day <= last)]


def test_digest_week_writes_text_and_html_with_the_sandboxs_figures(sandbox, env, tmp_path):
    text_file, html_file = tmp_path / "digest.txt", tmp_path / "digest.html"
    result = run_cli("digest", "--week", "--text", str(text_file), "--html", str(html_file),
                     env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # written to the files, not printed
    text = text_file.read_text()
    lines = text.splitlines()
    assert lines[0] == SUBJECT
    assert lines[1] == ("The last complete Monday–Sunday week in Europe/Berlin, against the "
                        "week before (Mon 02 Nov – Sun 08 Nov 2026).")

    # The team's calls and connects, counted from the sandbox's records by hand: connected is
    # an outbound call whose disposition's outcome is Answered (the default mapping).
    from lib.sandbox.data import ANSWERED_IDS  # the sandbox's own lookup, not the client's

    now, before = (week_calls(sandbox, "2026-11-09", "2026-11-15"),
                   week_calls(sandbox, "2026-11-02", "2026-11-08"))
    assert len(now) > 500 and len(before) > 500
    team = lines[lines.index("Team") + 1:lines.index("Reps")]
    assert team[0] == f"  Calls: {len(now):,}, was {len(before):,}, {len(now) - len(before):+,}"
    outbound = now[now["outbound"]]
    connected = int(outbound["disposition_id"].isin(set(ANSWERED_IDS)).sum())
    assert f"({connected:,} of {len(outbound):,} outbound calls)" in team[2]
    assert team[2].startswith("  Connect rate: ")
    assert len(team) == 7 + 1 and team[-1] == ""  # the seven figures, then a blank line
    biggest = lines[lines.index("Biggest changes") + 1:]
    assert biggest[0].startswith("  1. ") and biggest[4].startswith("  5. ")

    page = html_file.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert f"<title>{SUBJECT}</title>" in page
    assert f"{connected:,} of {len(outbound):,} outbound calls" in page


def test_digest_week_of_a_day_gives_that_week_and_refuses_one_not_over(sandbox, env):
    earlier = run_cli("digest", "--week-of", "2026-11-04", env=env)
    assert earlier.returncode == 0, earlier.stderr
    lines = earlier.stdout.splitlines()  # no file asked for: printed
    assert lines[0] == "Callboard weekly digest: Mon 02 Nov – Sun 08 Nov 2026"
    assert lines[1].startswith("A Monday–Sunday week in Europe/Berlin, against the week "
                               "before (Mon 26 Oct – Sun 01 Nov 2026)")
    calls = len(week_calls(sandbox, "2026-11-02", "2026-11-08"))
    team = lines[lines.index("Team") + 1]
    assert team.startswith(f"  Calls: {calls:,}, was ")

    running = run_cli("digest", "--week-of", "2026-11-18", env=env)
    assert running.returncode == 1 and running.stdout == ""
    assert running.stderr.strip() == (
        "callboard: The week of 2026-11-18 (Mon 16 Nov – Sun 22 Nov 2026) has not ended yet "
        "in Europe/Berlin; --week gives the last complete week.")

    bad = run_cli("digest", "--week-of", "2026-02-30", env=env)
    assert bad.returncode == 1
    assert "--week-of '2026-02-30' is not a date of the form YYYY-MM-DD." in bad.stderr


def test_over_api_v2_the_calls_are_the_same_and_conversations_go_by_talk_time(env):
    on_1_0 = run_cli("digest", "--week", env={**env, "OUTREACH_API_VERSION": "1.0"})
    on_v2 = run_cli("digest", "--week", env={**env, "OUTREACH_API_VERSION": "2",
                                             "CALLBOARD_CONVERSATION_SECONDS": "45"})
    assert on_1_0.returncode == 0 and on_v2.returncode == 0, on_1_0.stderr + on_v2.stderr
    team_1_0, team_v2 = ([line for line in run.stdout.splitlines() if line.startswith(
        ("  Calls: ", "  Connect rate: "))][:2] for run in (on_1_0, on_v2))
    assert team_v2 == team_1_0  # the same calls and connects, whichever API read them
    assert "On API v2 a conversation is a connected call talked at least 45 s " \
        "(CALLBOARD_CONVERSATION_SECONDS)." in on_v2.stdout
    assert "On API v2 a conversation is a connected call talked at least 45 s" \
        not in on_1_0.stdout


def test_send_mails_one_message_with_the_text_and_the_html(env, smtp_server, tmp_path):
    inbox, port = smtp_server
    text_file, html_file = tmp_path / "digest.txt", tmp_path / "digest.html"
    result = run_cli("digest", "--week", "--send", "--text", str(text_file), "--html",
                     str(html_file), env=mail_env(env, port))
    assert result.returncode == 0, result.stderr
    assert (f"Sent the digest of Mon 09 Nov – Sun 15 Nov 2026 to 2 recipient(s) through "
            f"127.0.0.1:{port}.") in result.stderr

    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == "callboard@northwind.example"
    assert envelope.rcpt_tos == ["lead@northwind.example", "ops@northwind.example"]
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert message["Subject"] == SUBJECT
    assert message["From"] == "Callboard <callboard@northwind.example>"
    assert message["To"] == "lead@northwind.example, ops@northwind.example"
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    # The very digest written to the files (SMTP carries lines ending in CRLF).
    assert text.get_content().replace("\r\n", "\n") == text_file.read_text()
    assert html.get_content().replace("\r\n", "\n") == html_file.read_text()


def test_send_logs_in_when_asked_and_a_refused_login_is_one_line_without_the_password(
        env, smtp_server_with_login, tmp_path):
    inbox, port = smtp_server_with_login
    quiet = str(tmp_path / "digest.txt")
    ok = run_cli("digest", "--week", "--send", "--text", quiet,
                 env=mail_env(env, port, CALLBOARD_SMTP_USER="digest",
                              CALLBOARD_SMTP_PASSWORD=PASSWORD))
    assert ok.returncode == 0, ok.stderr
    assert len(inbox.envelopes) == 1

    wrong = "not-the-password-4411"
    refused = run_cli("digest", "--week", "--send", "--text", quiet,
                      env=mail_env(env, port, CALLBOARD_SMTP_USER="digest",
                                   CALLBOARD_SMTP_PASSWORD=wrong))
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"callboard: the mail server 127.0.0.1:{port} refused the login (535): check "
        "CALLBOARD_SMTP_USER and CALLBOARD_SMTP_PASSWORD. The digest was not sent.")
    assert wrong not in refused.stderr + refused.stdout
    assert len(inbox.envelopes) == 1


def test_a_mail_server_that_is_not_there_is_one_clear_line(env, tmp_path):
    port = free_port()  # nothing listens on it
    text_file = tmp_path / "digest.txt"
    result = run_cli("digest", "--week", "--send", "--text", str(text_file),
                     env=mail_env(env, port, CALLBOARD_SMTP_USER="digest",
                                  CALLBOARD_SMTP_PASSWORD=PASSWORD))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"callboard: Could not reach the mail server 127.0.0.1:{port} (Connection refused): "
        "check CALLBOARD_SMTP_HOST and CALLBOARD_SMTP_PORT, and that the server is running. "
        "The digest was not sent.")
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr
    assert text_file.read_text().startswith(SUBJECT)  # the digest is still there to read


def test_starttls_that_the_server_does_not_offer_is_said(env, smtp_server, tmp_path):
    _, port = smtp_server
    result = run_cli("digest", "--week", "--send", "--text", str(tmp_path / "digest.txt"),
                     env=mail_env(env, port, CALLBOARD_SMTP_STARTTLS="on"))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"the mail server 127.0.0.1:{port} does not offer what Callboard asked of it " \
           "(STARTTLS or a login)" in result.stderr


def test_send_without_mail_settings_says_which_are_missing_before_reading(env, sandbox):
    sandbox.reset_request_count()
    result = run_cli("digest", "--week", "--send",
                     env={**env, "CALLBOARD_SMTP_HOST": "127.0.0.1"})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        "callboard: Callboard's settings are incomplete: --send needs CALLBOARD_SMTP_FROM, "
        "CALLBOARD_DIGEST_TO (the mail server, the sender and who gets the digest).")
    assert sandbox.request_count == 0  # nothing was asked of Outreach: no read to wait for

    plain_password = run_cli("digest", "--week", "--send", env={
        **mail_env(env, 25), "CALLBOARD_SMTP_HOST": "smtp.northwind.example",
        "CALLBOARD_SMTP_USER": "digest", "CALLBOARD_SMTP_PASSWORD": PASSWORD})
    assert plain_password.returncode == 1
    assert "CALLBOARD_SMTP_STARTTLS=off would send CALLBOARD_SMTP_PASSWORD unencrypted" \
        in plain_password.stderr
    assert PASSWORD not in plain_password.stderr


def test_a_mistaken_mail_setting_stops_only_the_sending(env, sandbox, tmp_path):
    # Recipients separated by semicolons, an Outlook habit: the digest's problem alone.
    wrong = {**env, "CALLBOARD_SMTP_HOST": "127.0.0.1", "CALLBOARD_SMTP_FROM": "cb@x.example",
             "CALLBOARD_DIGEST_TO": "ana@x.example; bob@x.example"}
    assert Settings.from_mapping(wrong).mail_problem == (
        "CALLBOARD_DIGEST_TO must be e-mail addresses separated by commas, such as "
        "sales-leads@northwind.example, ana@northwind.example.")
    written = tmp_path / "digest.txt"
    fine = run_cli("digest", "--week", "--text", str(written), env=wrong)
    assert fine.returncode == 0, fine.stderr
    assert written.read_text().startswith(SUBJECT)
    summary = run_cli("summary", "--start", "2026-11-16", "--end", "2026-11-17", env=wrong)
    assert summary.returncode == 0, summary.stderr
    refused = run_cli("digest", "--week", "--send", env=wrong)
    assert refused.returncode == 1
    assert "CALLBOARD_DIGEST_TO must be e-mail addresses separated by commas" in refused.stderr
