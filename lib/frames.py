"""The frames every layer shares: the calls frame's columns and dtypes (1.0, and v2's extra
fields), typed frames from parsed rows, and the one test of whether a frame has v2's fields."""

# The calls frame: one row per call, sorted by (created_at, id), ids unique.
#
#   column          dtype                 source in a 1.0 record
#   id              int64                 id (string or number)
#   created_at      datetime64[ns, UTC]   attributes.metadata.created, else attributes.created
#   user_id         Int64 (nullable)      attributes.user.id, else relationships.user.data.id
#   outbound        bool                  attributes.connection.outbound (a real JSON boolean)
#   from_number     object (str, "")      attributes.connection.from
#   to_number       object (str, "")      attributes.connection.to
#   purpose_id      Int64                 attributes.purpose.id / relationships.purpose.data.id
#   disposition_id  Int64                 attributes.disposition.id / relationships...data.id
#   prospect_id     Int64                 attributes.prospect.id / relationships.prospect.data.id
#   note            object (str, "")      attributes.metadata.note, else attributes.note
#
# API v2 records carry more (lib.outreach reads them); a frame of v2 calls has these columns too,
# a frame of 1.0 calls never has them (absent, not empty: 1.0 does not know these facts):
#
#   outcome         object (str or None)  attributes.outcome: "Answered", "Not Answered", None
#   state           object (str or None)  attributes.state
#   dialed_at       datetime64[ns, UTC]   attributes.dialedAt (NaT when absent)
#   answered_at     datetime64[ns, UTC]   attributes.answeredAt (NaT: not answered or unknown)
#   completed_at    datetime64[ns, UTC]   attributes.completedAt
#
# Text columns are plain `object` columns of Python str (never missing: "" when absent), as
# ARCHITECTURE.md specifies. pandas 3 would otherwise infer its `str` dtype, so every dtype here
# is set explicitly rather than inferred.
#
# Parsing is defensive about shape (the live API's 1.0 call record is not publicly documented),
# but strict about meaning: a record without a usable id, created time or outbound flag raises
# UnexpectedResponse instead of being guessed at or silently dropped.

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

CALL_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "user_id",
    "outbound",
    "from_number",
    "to_number",
    "purpose_id",
    "disposition_id",
    "prospect_id",
    "note",
)

CALL_DTYPES: dict[str, str] = {
    "id": "int64",
    "created_at": "datetime64[ns, UTC]",
    "user_id": "Int64",
    "outbound": "bool",
    "from_number": "object",
    "to_number": "object",
    "purpose_id": "Int64",
    "disposition_id": "Int64",
    "prospect_id": "Int64",
    "note": "object",
}

V2_CALL_DTYPES: dict[str, str] = {
    "outcome": "object",
    "state": "object",
    "dialed_at": "datetime64[ns, UTC]",
    "answered_at": "datetime64[ns, UTC]",
    "completed_at": "datetime64[ns, UTC]",
}
CALL_DTYPES_V2: dict[str, str] = {**CALL_DTYPES, **V2_CALL_DTYPES}  # a calls frame read on v2

# A facts frame: only the calls frame's columns that figures count, with the same dtypes (the
# store reads ten million calls' worth in a second: lib.store.facts), and v2's on v2.
FIGURE_COLUMNS: tuple[str, ...] = ("created_at", "user_id", "outbound", "disposition_id")
V2_FIGURE_COLUMNS: tuple[str, ...] = ("outcome", "answered_at", "completed_at")

USER_COLUMNS: tuple[str, ...] = ("id", "first_name", "last_name", "name", "email")
DISPOSITION_COLUMNS: tuple[str, ...] = ("id", "name", "order", "outcome")
PURPOSE_COLUMNS: tuple[str, ...] = ("id", "name", "order")

_TEXT_COLUMNS = [name for name, dtype in CALL_DTYPES.items() if dtype == "object"]
_NULLABLE_INT_COLUMNS = [name for name, dtype in CALL_DTYPES.items() if dtype == "Int64"]



def empty_calls_frame(dtypes: Mapping[str, str] = CALL_DTYPES) -> pd.DataFrame:
    """A calls frame with no rows and exactly these columns and dtypes (CALL_DTYPES, or with
    V2_CALL_DTYPES added for API v2)."""
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()})


def frame_from_rows(rows: Iterable[Mapping[str, Any]],
                    dtypes: Mapping[str, str]) -> pd.DataFrame:
    """A calls frame from already parsed rows (parse_call output): typed, de-duplicated, sorted.

    When an id repeats, the last row wins (a later page of a read is the fresher copy).
    `dtypes` gives the columns: CALL_DTYPES, or CALL_DTYPES_V2 for API v2 (a row without a v2
    field has it unknown). Always given, never guessed from the rows: a read's columns are its
    API version's whether it found calls or not.
    """
    rows = list(rows)
    if not rows:
        return empty_calls_frame(dtypes)
    columns: dict[str, pd.Series] = {}
    for name, dtype in dtypes.items():
        if name in CALL_DTYPES:
            values = [row[name] for row in rows]
        else:  # a v2 field a row lacks is unknown
            values = [row.get(name) for row in rows]
        if dtype.startswith("datetime64"):
            series = pd.Series(pd.to_datetime(values, utc=True)).astype(dtype)
        elif name in _NULLABLE_INT_COLUMNS:
            series = pd.Series(values, dtype=dtype)
        elif name in _TEXT_COLUMNS:
            series = pd.Series(["" if v is None else v for v in values], dtype=object)
        elif dtype == "object":  # v2's outcome and state: None means unknown, kept as None
            series = pd.Series(values, dtype=object)
        else:
            series = pd.Series(values, dtype=dtype)
        columns[name] = series
    frame = pd.DataFrame(columns)
    frame = frame.drop_duplicates("id", keep="last")
    frame = frame.sort_values(["created_at", "id"], kind="stable").reset_index(drop=True)
    return frame


def has_v2_fields(columns_of: pd.DataFrame | Mapping[str, Any]) -> bool:
    """Whether this calls frame, parsed row or dtypes mapping carries API v2's own fields
    (V2_FIGURE_COLUMNS, which a v2 calls or facts frame has), known or not: the one test
    every layer asks, by the column names alone.

    A frame read from v2 has them even when it found no calls ("none yet"); one read from 1.0
    never has them, so v2-only figures are left out rather than drawn as zero. Never decided by
    the data, so what is shown (and the summary's keys) does not change shape with the range.
    """
    names = columns_of.columns if isinstance(columns_of, pd.DataFrame) else columns_of.keys()
    # The columns v2's figures read: a facts frame of v2 calls has these and no others.
    return set(V2_FIGURE_COLUMNS) <= set(names)
