"""Command-line access to Callboard's data: export calls and the overview's figures."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from lib.analytics import exports, figures, overview
from lib.analytics.timerange import utc_bounds
from lib.clock import real_clock
from lib.display.messages import explain
from lib.frames import V2_CALL_DTYPES, has_v2_fields
from lib.outreach.errors import OutreachError
from lib.settings import Settings, SettingsError
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
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    clock = real_clock
    try:
        start, end = _parse_day(args.start, "--start"), _parse_day(args.end, "--end")
        if end < start:
            raise ValueError("--end is before --start.")
        settings = Settings.from_env()
        tz = args.tz or settings.timezone
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
            "--user", type=int, action="append", dest="users", metavar="ID",
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
    return parser


def _parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{flag} {text!r} is not a date of the form YYYY-MM-DD.") from None


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
    figures = summary_figures(source, start, end, tz, args.users)
    print(json.dumps(figures, indent=2, sort_keys=True))
    return 0


def summary_figures(
    source: DataSource, start: date, end: date, tz: str, user_ids: Sequence[int] | None
) -> dict:
    """Every overview figure for the filters, built by the same code as the dashboard's overview:
    the headline figures, the previous period of the same length and the change against it, and
    the counts by disposition and by user."""
    client = source.client
    users, dispositions = client.list_users(), client.list_dispositions()
    rep_ids = list(user_ids) if user_ids else users["id"].tolist()
    previous_start, previous_end = figures.previous_period(start, end)
    calls = source.list_calls(*utc_bounds(start, end, tz), user_ids=user_ids)
    previous = source.list_calls(*utc_bounds(previous_start, previous_end, tz), user_ids=user_ids)
    built = overview.build_overview(
        calls, previous, users, dispositions, client.list_purposes(), rep_ids, start, end, tz
    )
    return overview.summary(built, start, end, tz, rep_ids)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
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
