"""The weekly digest in words for people: plain text, HTML, the e-mail carrying both, and the
page's cards, every name escaped for where it goes."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from lib.analytics import figures
from lib.analytics.digest import (
    FIGURES,
    RANKING_DEFINITION,
    Digest,
    FigureChange,
    SubjectFigures,
    Week,
    definitions,
    week_containing,
)
from lib.analytics.labels import NO_VALUE

FEW_CALLS = "too few calls to judge"
UNJUDGED_HEADING = f"Not ranked: {FEW_CALLS} (fewer than {figures.MIN_CALLS_FOR_RATE})"


def week_text(week: Week) -> str:
    """A week as people read it: "Mon 09 Nov – Sun 15 Nov 2026"."""
    first = f"{week.start:%a %d %b}" + (f" {week.start.year}"
                                         if week.start.year != week.end.year else "")
    return f"{first} – {week.end:%a %d %b} {week.end.year}"


def chosen_week(digest: Digest, latest: bool) -> str:
    """Which week this is and why, as the digest opens with it."""
    why = "The last complete Monday–Sunday week" if latest else "A Monday–Sunday week"
    return f"{why} in {digest.tz}, against the week before ({week_text(digest.previous)})."


def subject_line(digest: Digest) -> str:
    return f"Callboard weekly digest: {week_text(digest.week)}"


def value_text(value: int | figures.Rate) -> str:
    """A count ("1,204") or a rate ("38.2%", the dash when it has nothing to divide by), as
    the overview's cards write them (lib.analytics.overview.percent_text, which this layer
    cannot import: that module draws charts)."""
    if isinstance(value, int):
        return f"{value:,}"
    return NO_VALUE if value.value is None else f"{100 * value.value:.1f}%"


def delta_text(change: FigureChange) -> str | None:
    """The change as the cards write it: "+32" for a count, "+8.2 pp" for a rate."""
    if change.delta is None:
        return None
    if change.spec.is_rate:
        return f"{change.delta:+.1f} pp"
    return f"{int(change.delta):+,}"


def counts_text(value: int | figures.Rate, of: str | None) -> str:
    """The counts behind a rate: "13 of 34 outbound calls"; a count is its own."""
    if isinstance(value, int) or of is None:
        return f"{value:,}"
    return f"{value.numerator:,} of {value.denominator:,} {of}"


def change_line(change: FigureChange, with_subject: bool = False) -> str:
    """One figure in a line: "Connect rate: 38.2% (13 of 34 outbound calls), was 30.0% (12 of
    40 outbound calls), +8.2 pp", marked when it rests on too few calls."""
    spec = change.spec

    def side(value: int | figures.Rate) -> str:
        if spec.is_rate:
            return f"{value_text(value)} ({counts_text(value, spec.of)})"
        return value_text(value)

    name = f"{change.subject} · {spec.label}" if with_subject else spec.label
    delta = delta_text(change)
    return (f"{name}: {side(change.current)}, was {side(change.previous)}"
            + (f", {delta}" if delta else "") + (f" · {FEW_CALLS}" if change.few_calls else ""))


def digest_text(digest: Digest, latest: bool = True) -> str:
    """The digest as plain text (the e-mail's text part, and what the CLI prints)."""
    lines = [subject_line(digest), chosen_week(digest, latest), "", "Biggest changes"]
    lines += [f"  {rank}. {change_line(change, True)}"
              for rank, change in enumerate(digest.biggest, 1)] or ["  No figure changed."]
    lines.append(f"  ({RANKING_DEFINITION})")
    if digest.unjudged:
        lines += ["", UNJUDGED_HEADING]
        lines += [f"  - {change_line(change, True)}" for change in digest.unjudged]
    lines += ["", "Team"] + [f"  {change_line(change)}" for change in digest.team.changes]
    lines += ["", "Reps"]
    for rep in digest.reps:
        lines += [f"  {rep.name}"] + [f"    {change_line(change)}" for change in rep.changes]
    if digest.quiet_reps:
        lines.append(f"  No calls in either week: {', '.join(digest.quiet_reps)}")
    if not digest.reps and not digest.quiet_reps:
        lines.append("  No reps.")
    meaning = definitions(digest)
    lines += ["", "What the figures mean"]
    lines += [f"  {spec.label}: {meaning[spec.key]}" for spec in FIGURES]
    lines.append(f"  {FEW_CALLS.capitalize()}: {figures.METRIC_DEFINITIONS['few_calls']}")
    return "\n".join(lines) + "\n"


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2933; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #d9dee3; padding: 4px 10px; text-align: left;
         vertical-align: top; }
td.n { text-align: right; white-space: nowrap; }
small, .note { color: #5f6b76; }
.few { color: #a15c00; }
abbr { text-decoration: underline dotted; cursor: help; }
"""


def digest_html(digest: Digest, latest: bool = True) -> str:
    """The digest as one HTML document (the e-mail's HTML part); every name from Outreach is
    escaped, and each figure's definition is its label's hover title."""
    # Escaped whole, names and all: a definition is also an attribute's value (a hover title).
    meaning = {key: _escape(text) for key, text in definitions(digest).items()}
    title = _escape(subject_line(digest))
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{title}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{title}</h1>", f"<p class=\"note\">{_escape(chosen_week(digest, latest))}</p>",
             f"<h2 title=\"{_escape(RANKING_DEFINITION)}\">Biggest changes</h2>"]
    if digest.biggest:
        parts.append(_table(digest.biggest, meaning, with_subject=True, ranked=True))
    else:
        parts.append("<p>No figure changed.</p>")
    parts.append(f"<p class=\"note\">{_escape(RANKING_DEFINITION)}</p>")
    if digest.unjudged:
        parts += [f"<h2>{_escape(UNJUDGED_HEADING)}</h2>",
                  _table(digest.unjudged, meaning, with_subject=True)]
    parts += ["<h2>Team</h2>", _table(digest.team.changes, meaning)]
    parts.append("<h2>Reps</h2>")
    for rep in digest.reps:
        parts += [f"<h3>{_escape(rep.name)}</h3>", _table(rep.changes, meaning)]
    if digest.quiet_reps:
        parts.append(f"<p>No calls in either week: {_escape(', '.join(digest.quiet_reps))}</p>")
    parts.append("<h2>What the figures mean</h2><dl>")
    parts += [f"<dt>{_escape(spec.label)}</dt><dd>{meaning[spec.key]}</dd>" for spec in FIGURES]
    parts.append(f"<dt>{_escape(FEW_CALLS.capitalize())}</dt>"
                 f"<dd>{_escape(figures.METRIC_DEFINITIONS['few_calls'])}</dd></dl>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _table(changes: Sequence[FigureChange], meaning: dict[str, str], *,
           with_subject: bool = False, ranked: bool = False) -> str:
    head = (["#"] if ranked else []) + (["Who"] if with_subject else []) + [
        "Figure", "This week", "Last week", "Change"]
    rows = ["<table><thead><tr>" + "".join(f"<th>{name}</th>" for name in head)
            + "</tr></thead><tbody>"]
    for rank, change in enumerate(changes, 1):
        spec = change.spec
        cells = [f"<td class=\"n\">{rank}</td>"] if ranked else []
        if with_subject:
            cells.append(f"<td>{_escape(change.subject)}</td>")
        # `meaning` is escaped already: the definition is the label's hover title.
        cells.append(f"<td><abbr title=\"{meaning[spec.key]}\">{_escape(spec.label)}</abbr>"
                     + (f" <span class=\"few\">⚠ {FEW_CALLS}</span>" if change.few_calls
                        else "") + "</td>")
        for value in (change.current, change.previous):
            counts = (f"<br><small>{_escape(counts_text(value, spec.of))}</small>"
                      if spec.is_rate else "")
            cells.append(f"<td class=\"n\">{_escape(value_text(value))}{counts}</td>")
        cells.append(f"<td class=\"n\">{_escape(delta_text(change) or NO_VALUE)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)


def digest_email(digest: Digest, sender: str, recipients: Sequence[str], sent_at: datetime,
                 latest: bool = True) -> EmailMessage:
    """One multipart/alternative message: the text, then the HTML (mail clients show the last
    part they can)."""
    message = EmailMessage()
    message["Subject"] = subject_line(digest)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(sent_at)
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid("callboard-digest", domain=domain)
    message.set_content(digest_text(digest, latest))
    message.add_alternative(digest_html(digest, latest), subtype="html")
    return message


@dataclass(frozen=True)
class DigestCard:
    """One card of the digest page: what st.metric shows, and the counts behind it (the
    overview's Card, which this layer cannot import: lib.analytics.overview draws charts)."""

    label: str
    value: str
    delta: str | None
    compared_with: str
    delta_color: str  # "normal": up is good; "inverse": up is bad; "off": neutral
    help: str
    basis: str
    few_calls: bool


def cards(changes: Sequence[FigureChange], digest: Digest, quote: Callable[[str], str],
          with_subject: bool = False) -> list[DigestCard]:
    """The page's cards of these changes: the figure, its change, its definition on hover (names
    made to fit by `quote`, the page's Markdown escape) and the counts behind it underneath."""
    meaning = definitions(digest, quote)
    since = f"vs {week_text(digest.previous)}"
    shown = []
    for change in changes:
        spec = change.spec
        help_text = meaning[spec.key]
        if change.few_calls:
            help_text += "\n\n" + figures.METRIC_DEFINITIONS["few_calls"]
        if spec.is_rate:
            basis = (f"{counts_text(change.current, spec.of)} · was "
                     f"{counts_text(change.previous, spec.of)}")
        else:
            basis = f"was {value_text(change.previous)}"
        shown.append(DigestCard(
            label=(f"{quote(change.subject)} · {spec.label}" if with_subject else spec.label),
            value=value_text(change.current),
            delta=delta_text(change),
            compared_with=since,
            delta_color=spec.colour,
            help=help_text,
            basis=basis + (f" · {FEW_CALLS}" if change.few_calls else ""),
            few_calls=change.few_calls,
        ))
    return shown


def rep_heading(rep: SubjectFigures) -> str:
    """A rep's heading on the page (plain text: the caller escapes it): "Ada Lovelace · 50 calls
    (+3)"."""
    calls = rep["calls"]
    return f"{rep.name} · {value_text(calls.current)} calls ({delta_text(calls)})"


def week_picked(day: date | None, latest: Week) -> tuple[Week, bool]:
    """The week a page's "week of" pick means (the latest complete one when nothing or a later
    day is picked), and whether it is that latest one."""
    if day is None or day > latest.end:
        return latest, True
    week = week_containing(day)
    return week, week == latest

