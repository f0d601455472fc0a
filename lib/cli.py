"""Command-line access to Callboard's data: export calls and the overview's figures, write or
send the weekly digest, sync the store with Outreach (for cron); connect Callboard to Outreach
(connect, disconnect)."""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import ssl
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pandas as pd

from lib.analytics import attempts, digest, exports, figures, lines, overview, prospect_zones
from lib.analytics.timerange import utc_bounds
from lib.clock import LATEST_YEAR, real_clock
from lib.display import digest as digest_display
from lib.display.filters import FIRST_DAY
from lib.display.messages import explain
from lib.display.typed_ids import typed_id
from lib.frames import V2_CALL_DTYPES, has_v2_fields
from lib.outreach import oauth
from lib.outreach.errors import OutreachError
from lib.settings import Settings, SettingsError
from lib.store import tokens
from lib.store.callstore import StoreError, StoreRefused
from lib.store.datasource import DataSource
from lib.store.opening import open_source

EXPORT_COLUMNS = [
    "id",
    "created_at",
    "user_id",
    "outbound",
    "disposition_id",
    "purpose_id",
    "prospect_id",
    "from_number",
    "to_number",
    "note",
]
LAST_CLI_DAY = date(LATEST_YEAR, 12, 31)  # the last year a pinned clock may name, too
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
SMTP_TIMEOUT_S = 30  # a mail server that neither answers nor refuses is given up on


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.run in (_connect, _disconnect):  # no days, no data source
        return args.run()
    clock = real_clock
    try:
        if args.run in (_sync, _digest):
            start = end = date.today()  # unused: a sync is of what is stored, a digest's week
            # comes from Callboard's clock
        else:
            start, end = _parse_day(args.start, "--start"), _parse_day(args.end, "--end")
            if end < start:
                raise ValueError("--end is before --start.")
        settings = Settings.from_env()
        tz = getattr(args, "tz", None) or settings.timezone
        clock = settings.make_clock()  # a rate limit's "try again in" counts on it too
        source = open_source(settings, clock=clock)
        try:
            if source.demo:
                print(f"No Outreach credentials set: using {source.description}.", file=sys.stderr)
            return args.run(args, source, start, end, tz)
        finally:
            source.close()
    except (OutreachError, SettingsError) as exc:
        print(f"callboard: {explain(exc, now=clock())}", file=sys.stderr)
    except StoreError as exc:
        print(f"callboard: {_store_failure(exc)}", file=sys.stderr)
    except (ValueError, OSError) as exc:
        print(f"callboard: {exc}", file=sys.stderr)
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib.cli", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def add_filters(command: argparse.ArgumentParser) -> None:
        command.add_argument("--start", required=True, help="first local day, YYYY-MM-DD")
        command.add_argument("--end", required=True, help="last local day (included), YYYY-MM-DD")
        command.add_argument(
            "--user", type=_user_id, action="append", dest="users", metavar="ID",
            help="a rep's Outreach user id; repeat for several (default: every user)",
        )
        command.add_argument(
            "--tz", help="time zone of the days (default CALLBOARD_TIMEZONE, else UTC)"
        )

    export = commands.add_parser("export", help="every call created in the days, one row each")
    add_filters(export)
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument(
        "--spreadsheet-safe", action="store_true",
        help="quote CSV cells a spreadsheet would run as formulas (default: raw values)",
    )
    export.add_argument("--output", type=Path, help="file to write (default standard output)")
    export.set_defaults(run=_export)

    summary = commands.add_parser("summary", help="the overview's figures as JSON")
    add_filters(summary)
    summary.set_defaults(run=_summary)

    weekly = commands.add_parser(
        "digest", help="the week's biggest changes, per rep and team, as text and HTML; "
        "--send mails both (CALLBOARD_SMTP_* and CALLBOARD_DIGEST_TO)")
    which = weekly.add_mutually_exclusive_group(required=True)
    which.add_argument("--week", action="store_true",
                       help="the last complete Monday-Sunday week in CALLBOARD_TIMEZONE")
    which.add_argument("--week-of", metavar="YYYY-MM-DD",
                       help="the Monday-Sunday week of this day (it must have ended)")
    weekly.add_argument("--html", type=Path, metavar="FILE", help="write the HTML digest here")
    weekly.add_argument("--text", type=Path, metavar="FILE",
                        help="write the plain-text digest here (without --html or --text it "
                        "is printed)")
    weekly.add_argument("--send", action="store_true",
                        help="mail it (text and HTML in one message) to CALLBOARD_DIGEST_TO")
    weekly.set_defaults(run=_digest)

    sync = commands.add_parser(
        "sync", help="bring the store of calls up to date with Outreach now (for cron); "
        "export and summary sync first when the data is older than CALLBOARD_SYNC_EVERY_MINUTES")
    sync.add_argument("--days", type=_whole_days, default=0, metavar="N",
                      help="also load every user's calls of the last N UTC days that are not "
                      "stored yet (default 0: only keep what is stored current)")
    sync.add_argument("--every", type=_interval, metavar="TIME",
                      help="keep syncing, once every TIME (30s, 5m, 1h) until stopped: the sync "
                      "worker beside the dashboard's replicas")
    sync.add_argument("--runs", type=_positive, metavar="N",
                      help="with --every: stop after N syncs (default: run until stopped)")
    sync.set_defaults(run=_sync)

    connect = commands.add_parser(
        "connect", help="connect Callboard to Outreach: open the printed address, allow, paste "
        "the address the browser is sent to; the tokens are kept encrypted")
    connect.set_defaults(run=_connect)
    disconnect = commands.add_parser("disconnect", help="forget the tokens connect kept")
    disconnect.set_defaults(run=_disconnect)
    return parser


def _connect() -> int:
    """Connect Outreach for a local Callboard: the authorize URL out, the redirected URL in
    (standard input), the code exchanged and the tokens kept in the token store."""
    clock = real_clock
    try:
        settings = Settings.from_env()
        clock = settings.make_clock()
        problem = tokens.connect_problem(settings)
        if problem is not None:
            raise SettingsError(problem)
        assert settings.client_id and settings.client_secret and settings.redirect_uri
        pending = oauth.PendingStates()
        state = pending.begin(None)
        url = oauth.authorize_url(settings.api_base, settings.client_id, settings.redirect_uri,
                                  oauth.scopes_for(settings.api_version), state)
        print("Open this address in a browser signed in to Outreach as the user Callboard "
              "should read as, and allow Callboard:", file=sys.stderr)
        print(url, flush=True)
        print(f"Then paste the address the browser was sent to (it starts with "
              f"{settings.redirect_uri}):", file=sys.stderr, flush=True)
        pasted = sys.stdin.readline()
        if not pasted.strip():
            raise ValueError("Nothing was pasted, so Callboard is not connected.")
        code = oauth.check_callback(oauth.Callback.from_url(pasted), pending, None)
        grant = oauth.exchange_code(settings.api_base, settings.client_id,
                                    settings.client_secret, code, settings.redirect_uri,
                                    clock=lambda: clock().timestamp())
        tokens.connect(settings, grant)
        kept = tokens.store_for(settings)
        print(f"Connected to Outreach at {settings.api_base}. The tokens are kept encrypted in "
              f"{kept.where if kept else settings.token_db}; Callboard uses them from now on.",
              file=sys.stderr)
        return 0
    except (OutreachError, SettingsError) as exc:
        print(f"callboard: {explain(exc, now=clock())}", file=sys.stderr)
    except (oauth.ConnectError, tokens.TokenStoreError, ValueError, OSError) as exc:
        print(f"callboard: {exc}", file=sys.stderr)
    return 1


def _disconnect() -> int:
    try:
        settings = Settings.from_env()
        forgotten = tokens.disconnect(settings)
    except SettingsError as exc:
        print(f"callboard: {explain(exc)}", file=sys.stderr)
        return 1
    except tokens.TokenStoreError as exc:
        print(f"callboard: {exc}", file=sys.stderr)
        return 1
    print("The kept Outreach tokens are forgotten." if forgotten
          else "No Outreach tokens were kept.", file=sys.stderr)
    if settings.refresh_token:
        print("OUTREACH_REFRESH_TOKEN is still set and connects Callboard until it is removed.",
              file=sys.stderr)
    return 0


def _sync(args: argparse.Namespace, source: DataSource, start: date, end: date,
          tz: str) -> int:
    """One sync, or with --every one after another until stopped (or --runs of them): the
    sync worker beside the dashboard's replicas. A worker's failed sync is said and retried
    at the next turn; a single sync's failure is the exit status."""
    del start, end, tz
    if source.store is None:
        print("callboard: CALLBOARD_CACHE_DB is off: there is no store to sync.",
              file=sys.stderr)
        return 1
    runs = 0
    while True:
        started = time.monotonic()
        try:
            _sync_once(args, source)
        except (OutreachError, StoreError) as exc:
            if args.every is None:
                raise
            print(f"callboard: the sync failed, trying again in {args.every:g} s: "
                  f"{_failure(exc, source)}", file=sys.stderr, flush=True)
        runs += 1
        if args.every is None or (args.runs is not None and runs >= args.runs):
            return 0
        # Every `every` from start to start, however long a sync took.
        time.sleep(max(0.0, started + args.every - time.monotonic()))


def _failure(exc: OutreachError | StoreError, source: DataSource) -> str:
    """A failed sync in a sentence: an Outreach error explained; a store error by its kind
    only (its text may quote SQL with call data)."""
    if isinstance(exc, OutreachError):
        return explain(exc, now=source.clock())
    return _store_failure(exc)


def _store_failure(exc: StoreError) -> str:
    """A store error in a sentence: ours as it is; the driver's by its kind only (its text
    may quote SQL with call data)."""
    if isinstance(exc, StoreRefused):
        return str(exc)
    return (f"the call store failed ({type(exc).__name__}); check CALLBOARD_DATABASE_URL or "
            "CALLBOARD_CACHE_DB.")


def _sync_once(args: argparse.Namespace, source: DataSource) -> None:
    report = source.sync()
    assert report is not None
    print(f"Synced as of {report.at:%Y-%m-%d %H:%M} UTC: {report.changed_calls} changed "
          f"call(s) in {report.changed_pages} page(s), {report.days_reread} day(s) re-read, "
          f"{report.removed} deleted call(s) removed.", file=sys.stderr, flush=True)
    if args.days:
        now = source.clock()
        # The figures' columns: the cheapest read that stores the days, and packs them for
        # the dashboard's overview.
        read = source.read_calls(now - timedelta(days=args.days), now, sync=False,
                                 figures_only=True)
        print(f"The last {args.days} day(s): {len(read.calls)} call(s), "
              f"{int(read.loaded * 100)} % loaded.", file=sys.stderr, flush=True)
        if not read.complete:
            assert read.stopped_by is not None
            raise read.stopped_by


def _interval(text: str) -> float:
    """A worker's interval: 90s, 5m, 1h, or seconds as a number; at least a second."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1)
    try:
        seconds = float(number) * unit
    except ValueError:
        seconds = 0.0
    if not 1 <= seconds <= 86400:
        raise argparse.ArgumentTypeError("--every is a time from 1s to 24h, e.g. 30s, 5m, 1h.")
    return seconds


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("--runs is a whole number, 1 or more.")
    return int(text)


def _whole_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = -1
    if not 0 <= days <= 366:
        raise argparse.ArgumentTypeError("--days is a whole number of days from 0 to 366.")
    return days


def _user_id(text: str) -> int:
    """--user's type: an Outreach user id, a whole number from 1 up (-1 is not "every user")."""
    found = typed_id(text)
    if not isinstance(found, int):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an Outreach user id: ids are whole numbers from 1 up.")
    return found


def _parse_day(text: str, flag: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{flag} {text!r} is not a date of the form YYYY-MM-DD.") from None
    if not FIRST_DAY <= day <= LAST_CLI_DAY:
        # Outreach has no calls before 2000, and day arithmetic past the calendar's end overflows.
        raise ValueError(f"{flag} {text} is outside {FIRST_DAY} to {LAST_CLI_DAY}.")
    return day


def _export(args: argparse.Namespace, source: DataSource, start: date, end: date, tz: str) -> int:
    after, before = utc_bounds(start, end, tz)
    calls = source.list_calls(after, before, user_ids=args.users)
    # API v2's own columns (lib.frames.V2_CALL_DTYPES) come after, when the calls have them.
    columns = EXPORT_COLUMNS + (list(V2_CALL_DTYPES) if has_v2_fields(calls) else [])
    table = calls[columns].copy()
    for name in table.columns:
        if isinstance(table[name].dtype, pd.DatetimeTZDtype):
            # An unknown time stays empty (null in JSON), never a made-up one.
            table[name] = table[name].dt.strftime(_TIME_FORMAT).astype(object).where(
                table[name].notna(), None)
    if args.format == "csv":
        # Raw by default: a machine-readable export keeps "+16505551335" and "=..." as they are.
        text = (exports.csv_safe(table) if args.spreadsheet_safe else table).to_csv(index=False)
    else:
        text = table.to_json(orient="records", indent=1) + "\n"
    _write(text, args.output)
    return 0


def _summary(args: argparse.Namespace, source: DataSource, start: date, end: date, tz: str) -> int:
    figures = summary_figures(source, start, end, tz, args.users,
                              Settings.from_env().conversation_seconds)
    print(json.dumps(figures, indent=2, sort_keys=True))
    return 0


def summary_figures(
    source: DataSource, start: date, end: date, tz: str, user_ids: Sequence[int] | None,
    conversation_s: float = figures.CONVERSATION_SECONDS,
) -> dict:
    """Every overview figure for the filters, built by the same code as the dashboard's overview
    and counted by the same outcome mapping (the store's): the headline figures, the previous
    period of the same length and the change against it, the counts by disposition and by
    user, and the health of each calling number (the Line health page's)."""
    client = source.client
    users, dispositions = client.list_users(), client.list_dispositions()
    rep_ids = list(user_ids) if user_ids else users["id"].tolist()
    previous_start, previous_end = figures.previous_period(start, end)
    # One read of every column (line health needs the numbers, attempts the prospects), from
    # the earliest day any figure counts: the previous period's, or the attempts' lookback.
    # A partial read raises (never printed).
    first_day = min(previous_start, attempts.lookback_start(start))
    everything = source.list_calls(*utc_bounds(first_day, end, tz), user_ids)
    range_start, range_end = utc_bounds(start, end, tz)
    calls, previous = (_created_within(everything, *bounds) for bounds in (
        (range_start, range_end), utc_bounds(previous_start, previous_end, tz)))
    mapping = source.outcome_mapping(dispositions)
    built = overview.build_overview(calls, previous, users, dispositions, rep_ids, start, end, tz,
                                    mapping, conversation_s,
                                    # No goals kept, no goals section (as on the page).
                                    goals_set=source.goals() or None, now=source.clock(),
                                    whole_team=not user_ids)
    result = overview.summary(built, start, end, tz, rep_ids)
    result["line_health"] = lines.line_health(calls, previous, mapping, tz, rep_ids).to_dict()
    result["prospect_zone_heatmap"] = prospect_zones.prospect_zone_heatmap(calls, mapping).to_dict()
    attempts_from = _created_within(everything, utc_bounds(attempts.lookback_start(start), end,
                                                           tz)[0], range_end)
    result["attempts"] = attempts.attempt_figures(attempts_from, mapping, range_start,
                                                  rep_ids).to_dict()
    return result


def _created_within(calls: pd.DataFrame, after: datetime, before: datetime) -> pd.DataFrame:
    """The calls created in [after, before), as a read of just those days gives them."""
    created = calls["created_at"]
    return calls[(created >= after) & (created < before)].reset_index(drop=True)


class NotSent(ValueError):
    """The digest could not be mailed; the message says what failed and what to do (never the
    password, nor the server's answer to a login)."""


def _digest(args: argparse.Namespace, source: DataSource, start: date, end: date,
            tz: str) -> int:
    """The weekly digest: written to --html/--text (else printed), and with --send mailed."""
    del start, end
    settings = Settings.from_env()
    if args.send and settings.mail_problem:
        raise SettingsError(settings.mail_problem)
    missing = settings.digest_mail_missing() if args.send else []
    if missing:  # before any read: nothing to wait for when it cannot be sent
        raise SettingsError(f"--send needs {', '.join(missing)} (the mail server, the sender "
                            "and who gets the digest).")
    latest = digest.last_complete_week(source.clock(), tz)
    week = latest
    if args.week_of is not None:
        week = digest.week_containing(_parse_day(args.week_of, "--week-of"))
        if week.end > latest.end:
            raise ValueError(f"The week of {args.week_of} ({digest_display.week_text(week)}) "
                             f"has not ended yet in {tz}; --week gives the last complete week.")
    weekly = weekly_digest(source, week, tz, settings.conversation_seconds)
    is_latest = week == latest
    text = digest_display.digest_text(weekly, is_latest)
    if args.html is None and args.text is None:
        sys.stdout.write(text)
    # Both files first: a failed send still leaves the digest to read.
    if args.text is not None:
        _write(text, args.text)
    if args.html is not None:
        _write(digest_display.digest_html(weekly, is_latest), args.html)
    if args.send:
        assert settings.smtp_from is not None
        message = digest_display.digest_email(weekly, settings.smtp_from, settings.digest_to,
                                              source.clock(), is_latest)
        send_mail(message, settings)
        print(f"Sent the digest of {digest_display.week_text(week)} to "
              f"{len(settings.digest_to)} recipient(s) through {settings.smtp_host}:"
              f"{settings.smtp_port}.", file=sys.stderr)
    return 0


def weekly_digest(source: DataSource, week: digest.Week, tz: str,
                  conversation_s: float = figures.CONVERSATION_SECONDS) -> digest.Digest:
    """The digest of `week` for every user, read and counted as summary_figures does (the
    figures' columns, the store's outcome mapping); a partial read raises (never sent)."""
    client = source.client
    users, dispositions = client.list_users(), client.list_dispositions()
    calls, previous = (source.list_calls(*utc_bounds(days.start, days.end, tz), None,
                                         figures_only=True)
                       for days in (week, week.previous))
    return digest.build_digest(calls, previous, users, dispositions, users["id"].tolist(), week,
                               tz, source.outcome_mapping(dispositions), conversation_s)


def send_mail(message: EmailMessage, settings: Settings) -> None:
    """Mail `message` through the configured server (STARTTLS, then the login, when set).
    Raises NotSent with one sentence naming what failed and what to do."""
    host, port = settings.smtp_host, settings.smtp_port
    assert host is not None
    where = f"the mail server {host}:{port}"
    try:
        with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S) as server:
            if settings.smtp_starttls:
                server.starttls(context=ssl.create_default_context())
            if settings.smtp_user and settings.smtp_password:
                server.login(settings.smtp_user, settings.smtp_password)
            refused = server.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        # The server's answer is not quoted: it is about the credentials.
        raise NotSent(f"{where} refused the login ({exc.smtp_code}): check CALLBOARD_SMTP_USER "
                      "and CALLBOARD_SMTP_PASSWORD. The digest was not sent.") from None
    except smtplib.SMTPNotSupportedError:
        raise NotSent(f"{where} does not offer what Callboard asked of it (STARTTLS or a "
                      "login): check CALLBOARD_SMTP_PORT, or set CALLBOARD_SMTP_STARTTLS=off "
                      "for a mail server on this machine. The digest was not sent.") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise NotSent(f"{where} refused every recipient ({', '.join(sorted(exc.recipients))}): "
                      "check CALLBOARD_DIGEST_TO. The digest was not sent.") from None
    except smtplib.SMTPSenderRefused as exc:
        raise NotSent(f"{where} refused the sender ({exc.smtp_code}): check "
                      "CALLBOARD_SMTP_FROM. The digest was not sent.") from None
    except smtplib.SMTPResponseException as exc:
        raise NotSent(f"{where} refused the message ({exc.smtp_code}). The digest was not "
                      "sent; try again, or ask whoever runs the mail server.") from None
    except ssl.SSLError as exc:
        raise NotSent(f"STARTTLS with {where} failed ({exc.reason or type(exc).__name__}): "
                      "check CALLBOARD_SMTP_HOST and CALLBOARD_SMTP_PORT. The digest was not "
                      "sent.") from None
    except smtplib.SMTPServerDisconnected:
        raise NotSent(f"{where} closed the connection before the digest was sent: check "
                      "CALLBOARD_SMTP_PORT and CALLBOARD_SMTP_STARTTLS, then try again.") from None
    except smtplib.SMTPException as exc:
        # What is left is smtplib's own sentence (such as "No suitable authentication method
        # found."), never the server's answer to a login nor the password.
        raise NotSent(f"{where} could not take the digest ({exc}); check the CALLBOARD_SMTP_* "
                      "settings. The digest was not sent.") from None
    except OSError as exc:
        raise NotSent(f"Could not reach {where} ({exc.strerror or type(exc).__name__}): check "
                      "CALLBOARD_SMTP_HOST and CALLBOARD_SMTP_PORT, and that the server is "
                      "running. The digest was not sent.") from None
    if refused:
        print(f"callboard: {where} refused some recipients ({', '.join(sorted(refused))}); "
              "the others got the digest.", file=sys.stderr)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    if output.exists() and not output.is_file():
        # A device or a pipe (/dev/null, /dev/stdout, a FIFO): written into, never renamed
        # over, which would put a plain file where the device was.
        with output.open("w", encoding="utf-8", newline="") as file:
            file.write(text)
        return
    # Write beside the target and rename, so a failure never leaves a half-written file.
    directory = output.resolve().parent
    handle, temp = tempfile.mkstemp(dir=directory, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temp, output)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


if __name__ == "__main__":
    raise SystemExit(main())
