"""The overview from the store's packed columns (DataSource.read_calls' figures_only) gives the
same numbers as from every call, to the last call, on both engines and both API versions; the
calls table's newest calls are those of a full read; and both agree with the sandbox's own
records, read by the test's code (tests/expected_calls.py), not the store's."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from lib.analytics import figures, overview
from lib.analytics.timerange import utc_bounds
from lib.outreach import StaticToken
from lib.sandbox import start_sandbox
from lib.store.callstore import CallStore
from lib.store.datasource import DataSource
from lib.store.sync import SyncPolicy
from tests.api_versions import API_1_0, API_2, expected
from tests.conftest import NOW, no_sleep

# Three weeks over the US autumn DST change (1 November 2026), in a zone that has it: that
# local day is 25 hours long, so a bucketing by UTC day or a fixed offset would be caught.
TZ = "America/New_York"
END = NOW.date() - timedelta(days=2)
START = END - timedelta(days=20)


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox(port=0, seed=5, reps=6, days=60, now=NOW) as box:
        yield box


@pytest.fixture(params=[API_1_0, API_2], ids=["v1.0", "v2"])
def api(request):
    return request.param


def source_on(store_where, sandbox, api) -> DataSource:
    client = api.client(sandbox.base_url, StaticToken(sandbox.full_token), sleep=no_sleep,
                        clock=sandbox.clock.now)
    return DataSource(client, demo=False, description="the test sandbox",
                      store=CallStore(store_where), store_identity=f"figures {api.version}",
                      policy=SyncPolicy(), clock=sandbox.clock.now)


def summary_of(calls: pd.DataFrame, previous: pd.DataFrame, source: DataSource,
               reps: list[int]) -> dict:
    client = source.client
    built = overview.build_overview(calls, previous, client.list_users(),
                                    client.list_dispositions(), reps, START, END, TZ)
    return built, overview.summary(built, START, END, TZ, reps)


@pytest.mark.parametrize("reps", [None, [2, 4]], ids=["everyone", "two reps"])
def test_the_figures_from_packed_columns_are_those_of_every_call(store_where, sandbox, api,
                                                                  reps):
    source = source_on(store_where, sandbox, api)
    now_bounds = utc_bounds(START, END, TZ)
    before_bounds = utc_bounds(*figures.previous_period(START, END), TZ)
    packed = [source.read_calls(*bounds, reps, figures_only=True)
              for bounds in (now_bounds, before_bounds)]
    whole = [source.read_calls(*bounds, reps) for bounds in (now_bounds, before_bounds)]
    assert all(read.complete for read in packed + whole)
    # The figures' columns only: a year of calls fits in memory.
    assert "note" not in packed[0].calls and "note" in whole[0].calls
    assert len(packed[0].calls) == len(whole[0].calls) > 300

    # Every rep of the sandbox but its owner, as the page counts them with no rep picked.
    everyone = [int(i) for i in source.client.list_users()["id"] if i != 1]
    scope = reps or everyone
    from_packed, summary_packed = summary_of(packed[0].calls, packed[1].calls, source, scope)
    from_whole, summary_whole = summary_of(whole[0].calls, whole[1].calls, source, scope)
    assert summary_packed == summary_whole
    for name in ("volume", "mix", "heatmap", "reps"):
        pd.testing.assert_frame_equal(getattr(from_packed, name), getattr(from_whole, name))

    # And both are the sandbox's own calls, read from its raw records by the test's code.
    version = api.version
    mine = [expected(sandbox, *bounds, reps, version) for bounds in (now_bounds, before_bounds)]
    assert summary_of(mine[0], mine[1], source, scope)[1] == summary_packed
    assert ("answers" in summary_packed) == (version == "2")
    source.store.close()


def test_the_calls_table_holds_the_newest_calls_of_the_range(store_where, sandbox, api):
    source = source_on(store_where, sandbox, api)
    bounds = utc_bounds(START, END, TZ)
    every = source.read_calls(*bounds, None).calls
    newest = source.newest_calls(*bounds, None, 25)
    pd.testing.assert_frame_equal(newest, every.tail(25).reset_index(drop=True))
    # A disposition chosen in the chart: the newest of those calls only (None: none logged).
    chosen = [int(every["disposition_id"].dropna().iloc[0]), None]
    wanted = every[every["disposition_id"].isin(chosen[:1]) | every["disposition_id"].isna()]
    pd.testing.assert_frame_equal(source.newest_calls(*bounds, None, 10, chosen),
                                  wanted.tail(10).reset_index(drop=True))
    assert len(source.newest_calls(*bounds, [3], 10**6)) == int((every["user_id"] == 3).sum())
    source.store.close()
