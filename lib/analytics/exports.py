"""Tables made safe to open in a spreadsheet: formula-like text neutralised, CSV text."""

from __future__ import annotations

import re

import pandas as pd

# What a spreadsheet runs as a formula (OWASP "CSV injection"): a cell that starts with = + - @,
# a tab or a carriage return, or their full-width forms, which some spreadsheets fold into them.
_FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_FORMULA_START = "[" + re.escape("".join(_FORMULA_CHARS)) + "]"
# A plain number ("+16505551335", "-3", "-2.5e3") is read as a number, never run: left intact.
_PLAIN_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet opening this cell would run it as a formula."""
    return text.startswith(_FORMULA_CHARS) and re.fullmatch(_PLAIN_NUMBER, text) is None


def _neutralise(text: str) -> str:
    return "'" + text if runs_as_formula(text) else text


def _neutralise_any(value: object) -> object:
    return _neutralise(value) if isinstance(value, str) else value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy for a spreadsheet: every text cell it would run as a formula (runs_as_formula)
    starts with a single quote instead, which spreadsheets do not show. Plain numbers, in
    number columns or as text ("+16505551335", "-3"), and every other cell are left intact.
    """
    out = frame.copy()
    out.columns = [_neutralise(c) if isinstance(c, str) else c for c in out.columns]
    for column in range(out.shape[1]):
        series = out.iloc[:, column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            categories = series.cat.categories
            if categories.dtype == object or pd.api.types.is_string_dtype(categories.dtype):
                safe = [_neutralise(c) if isinstance(c, str) else c for c in categories]
                if len(set(safe)) == len(safe):
                    out.isetitem(column, series.cat.rename_categories(safe))
                else:
                    out.isetitem(column, series.astype(object).map(_neutralise_any))
            continue
        if not (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)):
            continue
        try:
            risky = (series.str.match(_FORMULA_START, na=False)
                     & ~series.str.fullmatch(_PLAIN_NUMBER, na=False))
        except AttributeError:  # an object column holding no strings at all
            continue
        if risky.any():
            fixed = series.copy()
            fixed[risky] = "'" + series[risky].astype(str)
            out.isetitem(column, fixed)
    return out


def calls_csv(table: pd.DataFrame) -> str:
    """A calls table as CSV text: exactly its rows and columns, times with their UTC offset, and
    cells a spreadsheet would run as formulas neutralised."""
    out = table.copy()
    if "time" in out:
        out["time"] = out["time"].map(lambda moment: moment.isoformat())
    return csv_safe(out).to_csv(index=False)
