"""All of the dashboard's Streamlit caching: the data source, lookups and calls, bounded."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from lib.analytics.goals import Goal
from lib.analytics.outcomes import OutcomeMapping
from lib.clock import Clock, clock_from_setting
from lib.outreach import ApiInfo, NewCall, OutreachError, ProspectMatches, RateLimited
from lib.settings import Settings
from lib.store.callstore import StoreError
from lib.store.datasource import (
    DataSource,
    GoalsNotKept,
    MappingNotKept,
    newest_of,
    store_problem,
)
from lib.store.opening import open_source

# Calls change all day (new calls, edited dispositions), and the store syncs when its data is
# older than CALLBOARD_SYNC_EVERY_MINUTES: keep a read in memory only briefly, so the next run
# asks the store (cheap) and the store decides whether to sync. The lists of reps, dispositions
# and purposes rarely change. Entries are bounded so a busy server cannot grow without limit:
# a range read for figures is about 30 bytes a call (a million calls: 30 MB), and the table's
# newest calls are at most the page's limit.
CALLS_TTL = "1m"
CALLS_MAX_ENTRIES = 32
LOOKUPS_TTL = "1h"
# An admin's edit of the outcome mapping in another replica shows here within this long.
MAPPING_TTL = "30s"
# The same for an admin's goals.
GOALS_TTL = "30s"
# A rep searching a prospect often types the same name twice (back from a typo); prospects
# added in Outreach meanwhile show within this long.
PROSPECTS_TTL = "5m"


@dataclass(frozen=True)
class Lookups:
    """The names behind ids: users (reps), call dispositions, call purposes."""

    users: pd.DataFrame
    dispositions: pd.DataFrame
    purposes: pd.DataFrame


@dataclass(frozen=True)
class LoadedCalls:
    """Calls of one query, when the store last synced with Outreach, and how much of the range
    is loaded (below 1: `stopped_by` says why the rest is missing and when it may come)."""

    calls: pd.DataFrame
    synced_at: datetime
    loaded: float = 1.0
    stopped_by: RateLimited | None = None
    sync_failed: OutreachError | None = None  # a due sync failed: as of `synced_at`
    store_problem: str | None = None  # the store was not used: why (DataSource.read_calls)


def settings() -> Settings:
    """Settings from `.streamlit/secrets.toml`, overridden by the environment."""
    return Settings.from_env(_secrets())


def data_source() -> DataSource:
    """The process-wide data source for the current settings (the sandbox when there are none)."""
    current = settings()
    return _data_source(_fingerprint(current), current)


def now() -> datetime:
    """Callboard's "now" (pinned by CALLBOARD_NOW, else the real time): the data source's clock,
    so that "today" on a page is the day it reads up to. Opens no data source, so an error
    message can ask it too."""
    return _clock(settings().now)()


def source_key() -> str:
    """Identifies the data source in cache keys, so a change of settings never mixes data."""
    return _fingerprint(settings())


def lookups() -> Lookups:
    return _lookups(source_key(), data_source())


def outcome_mapping() -> OutcomeMapping:
    """What each disposition counts as, for every rate on every page (DataSource's)."""
    return _outcome_mapping(source_key(), data_source(), lookups().dispositions)


class NotSaved(Exception):
    """An edit that could not be kept; the message says why and what to do."""


def save_outcome_mapping(flags: Mapping[int, frozenset[str]], by: str) -> None:
    """Keep an admin's mapping (DataSource.save_outcome_mapping); every page here uses it at
    once, other replicas within MAPPING_TTL. Raises NotSaved."""
    source = data_source()
    try:
        source.save_outcome_mapping(flags, by)
    except MappingNotKept as exc:
        raise NotSaved(str(exc)) from exc
    except StoreError as exc:
        raise NotSaved(store_problem(exc) + " Try again; if it keeps failing, whoever runs "
                       "Callboard should look at its store.") from exc
    _outcome_mapping.clear()


# ----- goals (issue 17, part 2) -----


def goals() -> list[Goal]:
    """The goals kept for the organisation (DataSource.goals), for the overview's rep table
    and the Goals page."""
    return list(_goals(source_key(), data_source()))


def save_goals(goals: Sequence[Goal], cleared: Sequence[tuple[int | None, str]],
               by: str) -> None:
    """Keep these goals and forget the `cleared` (rep id or None for the team, metric) ones
    (DataSource.save_goals); every page here uses them at once, other replicas within
    GOALS_TTL. Raises NotSaved."""
    try:
        data_source().save_goals(goals, cleared, by)
    except GoalsNotKept as exc:
        raise NotSaved(str(exc)) from exc
    except StoreError as exc:
        raise NotSaved(store_problem(exc) + " Try again; if it keeps failing, whoever runs "
                       "Callboard should look at its store.") from exc
    finally:
        _goals.clear()  # also after a failure: what is kept is read afresh


# ----- identities and calls -----


def token_owner() -> ApiInfo:
    """Who the API token belongs to: the owner of every call logged through Callboard."""
    return _token_owner(source_key(), data_source())


def find_prospects(text: str) -> ProspectMatches:
    """The prospects a typed name or e-mail stands for (OutreachClient.find_prospects)."""
    return _prospects(source_key(), data_source(), " ".join(text.split()))


def calls_for_figures(after: datetime, before: datetime,
                      user_ids: Sequence[int] | None) -> LoadedCalls:
    """The calls created in [after, before) by these users (None: everyone), in the columns
    figures count (DataSource.read_calls' figures_only: a year of a large team fits).

    A progress bar shows pages read while Outreach is being asked; a cached answer shows none.
    """
    users = None if user_ids is None else tuple(sorted(set(user_ids)))
    return _calls(source_key(), data_source(), after, before, users)


def calls_with_numbers(after: datetime, before: datetime,
                       user_ids: Sequence[int] | None) -> LoadedCalls:
    """The calls of `calls_for_figures` with every column, the numbers and prospects too (for
    line health): read from the store's rows rather than its packed days, so several times
    slower on a large team."""
    users = None if user_ids is None else tuple(sorted(set(user_ids)))
    return _calls(source_key(), data_source(), after, before, users, every_column=True)


def newest_calls(after: datetime, before: datetime, user_ids: Sequence[int] | None,
                 limit: int, disposition_ids: Sequence[int | None] | None) -> pd.DataFrame:
    """The newest `limit` of those calls, every column (of these dispositions only, when
    given; None among them: none logged), for the overview's table; asked after
    `calls_for_figures`, so never a sync of its own."""
    if data_source().store is None:
        # Without a store the figures' read holds every column of every call already (from
        # the API): the table is cut from it, never read again per disposition picked.
        return newest_of(calls_for_figures(after, before, user_ids).calls, limit,
                         disposition_ids)
    users = None if user_ids is None else tuple(sorted(set(user_ids)))
    chosen = None if disposition_ids is None else tuple(
        sorted(set(disposition_ids), key=lambda i: (i is not None, i or 0)))
    return _newest_calls(source_key(), data_source(), after, before, users, limit, chosen)


def get_call(call_id: int | str) -> dict:
    """One call, always fresh from Outreach (a lookup is for checking what is there now)."""
    return data_source().client.get_call(call_id)


def create_call(new: NewCall) -> dict:
    """Log a call (kept in the store at once), then forget cached calls so every page shows
    it."""
    created = data_source().create_call(new)
    _calls.clear()
    _newest_calls.clear()
    return created


def refresh() -> None:
    """The manager's Refresh: sync the store with Outreach now (OutreachError if that fails),
    then forget what was read into memory."""
    try:
        data_source().sync()
    finally:
        forget()


def forget() -> None:
    """Forget calls and lookups read into memory (the store keeps its calls)."""
    _calls.clear()
    _newest_calls.clear()
    _lookups.clear()
    _outcome_mapping.clear()
    _goals.clear()
    _token_owner.clear()


def reopen_source() -> None:
    """Forget the data source and everything read through it: the next run opens the source
    with the credentials as they are now (connected anew, or disconnected)."""
    forget()
    _data_source.clear()


def full_reload() -> None:
    """Forget everything, including the store of calls: the next read is a cold one."""
    data_source().clear_cache()
    forget()


# ----- the cached functions ------------------------------------------------------------------
# Arguments starting with "_" are not hashed; `key` stands for the data source in the cache key.


@st.cache_resource(show_spinner=False, max_entries=4)
def _data_source(key: str, _settings: Settings) -> DataSource:
    del key
    return open_source(_settings, clock=_clock(_settings.now))


@st.cache_resource(show_spinner=False, max_entries=4)
def _clock(now_setting: str | None) -> Clock:
    # One clock per setting for the process: a pinned one starts where the setting says when it
    # is first made, and every page and the data source then share it.
    return clock_from_setting(now_setting)


@st.cache_data(ttl=LOOKUPS_TTL, max_entries=8, show_spinner="Loading reps and dispositions…")
def _lookups(key: str, _source: DataSource) -> Lookups:
    del key
    client = _source.client
    return Lookups(client.list_users(), client.list_dispositions(), client.list_purposes())


@st.cache_data(ttl=MAPPING_TTL, max_entries=8, show_spinner=False)
def _outcome_mapping(key: str, _source: DataSource, dispositions: pd.DataFrame) -> OutcomeMapping:
    return _source.outcome_mapping(dispositions)


@st.cache_data(ttl=GOALS_TTL, max_entries=8, show_spinner=False)
def _goals(key: str, _source: DataSource) -> tuple[Goal, ...]:
    del key
    return tuple(_source.goals())


@st.cache_data(ttl=LOOKUPS_TTL, max_entries=8, show_spinner=False)
def _token_owner(key: str, _source: DataSource) -> ApiInfo:
    del key
    return _source.client.info()


@st.cache_data(ttl=PROSPECTS_TTL, max_entries=256, show_spinner="Finding the prospect…")
def _prospects(key: str, _source: DataSource, text: str) -> ProspectMatches:
    del key
    return _source.client.find_prospects(text)


# A resource, not data: one read shared by every session and rerun as it is, never pickled
# and copied again at each rerun (ten million calls' figure columns are 270 MB). Nothing that
# reads it changes it: every figure makes frames of its own.
@st.cache_resource(ttl=CALLS_TTL, max_entries=CALLS_MAX_ENTRIES, show_spinner=False)
def _calls(
    key: str,
    _source: DataSource,
    after: datetime,
    before: datetime,
    user_ids: tuple[int, ...] | None,
    every_column: bool = False,
) -> LoadedCalls:
    del key
    # The bar is made inside the cached function so that Streamlit can replay it on a cache hit;
    # it is emptied at the end, so a replay shows nothing.
    bar = st.progress(0.0, text="Loading calls from Outreach…")
    shown = [-1]

    def on_progress(done: int, known: int) -> None:
        percent = int(100 * done / max(known, 1))
        if percent != shown[0]:  # one update per percent keeps the replay short
            shown[0] = percent
            bar.progress(min(percent, 100) / 100, text=f"Loading calls: page {done} of {known}")

    try:
        read = _source.read_calls(after, before, user_ids, on_progress,
                                  figures_only=not every_column)
    finally:
        bar.empty()
    return LoadedCalls(read.calls, read.synced_at, read.loaded, read.stopped_by,
                       read.sync_failed, read.store_problem)


@st.cache_data(ttl=CALLS_TTL, max_entries=CALLS_MAX_ENTRIES, show_spinner=False)
def _newest_calls(
    key: str,
    _source: DataSource,
    after: datetime,
    before: datetime,
    user_ids: tuple[int, ...] | None,
    limit: int,
    disposition_ids: tuple[int | None, ...] | None,
) -> pd.DataFrame:
    del key
    return _source.newest_calls(after, before, user_ids, limit, disposition_ids)


def _fingerprint(current: Settings) -> str:
    # Hashed so that the cache key, which Streamlit may show in debug output, holds no secret.
    text = "|".join(
        str(part)
        for part in (
            current.api_base,
            current.access_token,
            current.client_id,
            current.client_secret,
            current.refresh_token,
            current.sandbox_db,
            current.api_version,
            current.now,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _secrets() -> dict[str, object]:
    # Without a secrets file st.secrets raises; that simply means "use the environment".
    # Sections such as [auth] are not data-source settings.
    try:
        return {key: value for key, value in st.secrets.items() if not isinstance(value, Mapping)}
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return {}
