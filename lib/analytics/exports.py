"""Tables made safe to open in a spreadsheet: formula-like text neutralised, CSV text."""

from __future__ import annotations

import pandas as pd

_FORMULA_START = r"[=+\-@\t\r]"
_FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_CHARS) else text


def _neutralise_any(value: object) -> object:
    return _neutralise(value) if isinstance(value, str) else value



def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy in which every text cell a spreadsheet would run as a formula (starting with =, +,
    -, @, tab or carriage return) starts with a single quote instead; numbers are untouched.

    Phone numbers such as "+15551234567" are text here and so become "'+15551234567": that is
    the usual spreadsheet practice (OWASP "CSV injection"), and the quote is not shown in Excel.
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
            risky = series.str.match(_FORMULA_START, na=False)
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
