"""Shared fixtures: one small sandbox for the session, and clients of it that never really wait."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from lib.auth import StaticToken
from lib.client import OutreachClient
from lib.sandbox import Sandbox, start_sandbox

# Small enough to start in well under a second, large enough for ~90 pages of calls.
SANDBOX_OPTIONS = {"seed": 7, "reps": 5, "days": 30, "mint_interval": 0}


def no_sleep(seconds: float) -> None:
    """Stands in for time.sleep so retries and backoff cost no test time."""


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One sandbox for the whole run. Tests that change its settings use `configure_sandbox`."""
    box = start_sandbox(port=0, **SANDBOX_OPTIONS)
    yield box
    box.stop()


@pytest.fixture
def configure_sandbox(sandbox: Sandbox) -> Iterator[Callable[..., dict]]:
    """sandbox.configure for one test; the settings and rate windows are restored afterwards."""
    original = sandbox.configure()
    yield sandbox.configure
    sandbox.configure(**{key: original[key] for key in
                         ("latency_ms", "fault_rate", "rate_limit", "mint_interval", "token_ttl")})
    sandbox.reset_rate_limits()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[OutreachClient]:
    """A client with the sandbox's all-scopes token whose retries do not sleep."""
    with OutreachClient(sandbox.base_url, StaticToken(sandbox.full_token), sleep=no_sleep) as c:
        yield c
