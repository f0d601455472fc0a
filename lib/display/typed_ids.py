"""Outreach ids as people type them: digits only, from 1 up to 18 digits (64-bit integers)."""

from __future__ import annotations

from typing import Literal

MAX_ID_DIGITS = 18

IdProblem = Literal["not digits", "no such id"]


def typed_id(text: str | None) -> int | IdProblem | None:
    """The id in what was typed (spaces around it ignored); None when nothing was typed; else
    what is wrong with it, for the caller to say in its own words: "not digits", or "no such
    id" (zero, or longer than any Outreach id)."""
    text = (text or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        return "not digits"
    if len(text) > MAX_ID_DIGITS or int(text) == 0:
        return "no such id"
    return int(text)
