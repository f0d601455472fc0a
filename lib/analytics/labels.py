"""What names and dashes stand for ids and missing values, the same on every page."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

NO_DISPOSITION = "No disposition"
NO_VALUE = "–"
"""What is shown for a figure or field that does not exist (a rate without calls, the talk time
of an unanswered call, a call without a number): the same dash on cards, tables and the lookup."""
OTHER_USERS = "Other users"
TEAM = "Team"
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def labels_for(
    ids: pd.Series | Sequence[int | None],
    table: pd.DataFrame,
    column: str,
    missing: str,
    unknown: Callable[[int], str],
) -> pd.api.extensions.ExtensionArray:
    """table[column] for each id (matched on table["id"]) as a string array: `missing` where the
    id is missing, `unknown(id)` where the lookup has no such id."""
    ids = pd.array(ids, dtype="Int64")
    values = ids.to_numpy(dtype=np.float64, na_value=np.nan)
    position = pd.Index(table["id"].to_numpy(dtype=np.int64)).get_indexer(values)
    labels = [*table[column].astype(object), missing]
    absent = np.asarray(ids.isna(), dtype=bool)
    strangers = (position < 0) & ~absent
    if strangers.any():
        found, which = np.unique(values[strangers].astype(np.int64), return_inverse=True)
        position[strangers] = len(labels) + which
        labels += [unknown(int(i)) for i in found]
    position[absent] = len(table)
    # The label list is short: build it once, then take per call.
    return pd.array(labels, dtype="str").take(position)


def unknown_disposition(disposition_id: int) -> str:
    return f"Unknown disposition {disposition_id}"


def display_names(users: pd.DataFrame) -> dict[int, str]:
    """Each user's name as every page shows it: name, else first + last name, else e-mail,
    else "User <id>"."""
    named = with_display_names(users)
    return dict(zip(named["id"].astype(int).tolist(), named["_display"].tolist(), strict=True))


def with_display_names(users: pd.DataFrame) -> pd.DataFrame:
    """users plus "_display": name, else first + last name, else email, else "User <id>"."""
    users = users.reset_index(drop=True)

    def text(column: str) -> pd.Series:
        if column not in users:
            return pd.Series([""] * len(users), dtype=object)
        return users[column].astype(object).fillna("").astype(str).str.strip()

    full = (text("first_name") + " " + text("last_name")).str.strip()
    fallback = "User " + users["id"].astype(str)
    display = text("name").where(text("name") != "", full)
    display = display.where(display != "", text("email"))
    display = display.where(display != "", fallback)
    return users.assign(_display=display.to_numpy(dtype=object))


def user_names(rep_ids: Sequence[int], users: pd.DataFrame) -> list[str]:
    named = with_display_names(users)
    return list(labels_for(rep_ids, named, "_display", "", lambda i: f"User {i}"))
