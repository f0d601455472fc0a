"""Helpers for the page tests: open a page of the app against the sandbox, read what it shows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.outreach import NewCall
from lib.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
TZ = "America/Los_Angeles"
READ_SCOPES = ["read_calls", "read_users", "read_call_dispositions", "read_call_purposes"]


def set_app_env(monkeypatch: pytest.MonkeyPatch, base_url: str, token: str, db: Path, *,
                now: str) -> None:
    """Point the app at the sandbox with this token, on the sandbox's clock (`now`, from
    tests.conftest.pinned_now); nothing from the developer's shell leaks in."""
    for key in ("OUTREACH_CLIENT_ID", "OUTREACH_CLIENT_SECRET", "OUTREACH_REFRESH_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CALLBOARD_NOW", now)
    monkeypatch.setenv("OUTREACH_API_BASE", base_url)
    monkeypatch.setenv("OUTREACH_ACCESS_TOKEN", token)
    monkeypatch.setenv("CALLBOARD_TIMEZONE", TZ)
    monkeypatch.setenv("CALLBOARD_SANDBOX_DB", str(db))
    # The store of calls beside it: never the developer's .callboard/ in the repo.
    monkeypatch.setenv("CALLBOARD_CACHE_DB", str(db.with_name("calls.sqlite")))


def open_page(page: str, query: dict[str, str] | None = None) -> AppTest:
    """The app run once (pages register on the first run), then switched to `page`.

    AppTest resets Streamlit's folder-mode flag before every run, so with `pages/` beside
    app.py every later run starts in folder mode and runs the page file itself: these tests
    pass through lib.ui.frame.page_frame()'s folder path, the browser tests through app.py.
    """
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for key, value in (query or {}).items():
        app.query_params[key] = value
    app.run()
    app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def fields_shown(app: AppTest) -> dict[str, str]:
    """The lookup's fields: each caption in the main area labels the plain text after it."""
    labels = [caption.value for caption in app.main.caption]
    values = [text.value for text in app.main.text]
    assert len(labels) == len(values), (labels, values)
    return dict(zip(labels, values, strict=True))


def element_after(app: AppTest, key: str):
    """The element drawn right after the widget with this key, in the same container (the place
    of a message "next to the field"); None when the widget is last there."""
    def walk(block):
        kids = [block.children[index] for index in sorted(block.children)]
        for index, kid in enumerate(kids):
            if getattr(kid, "key", None) == key:
                return True, (kids[index + 1] if index + 1 < len(kids) else None)
            if hasattr(kid, "children"):
                found, after = walk(kid)
                if found:
                    return True, after
        return False, None

    found, after = walk(app.main)
    assert found, f"no widget with key {key!r}"
    return after


def messages(app: AppTest) -> list[str]:
    """Every error and warning on the page."""
    return [e.value for e in app.error] + [w.value for w in app.warning]


def shown(markdown: str) -> str:
    """What a reader sees of an element's Markdown: escaped characters as themselves."""
    return re.sub(r"\\(.)", r"\1", markdown)


@contextmanager
def sandbox_with_calls(*calls: NewCall) -> Iterator[Sandbox]:
    """A sandbox of the test's own (the session's, with 10 days of history), in which the
    owner's token has just logged these calls, at its "now"."""
    from lib.outreach import OutreachClient, StaticToken
    from lib.sandbox import start_sandbox
    from tests.conftest import SANDBOX_OPTIONS, no_sleep

    with start_sandbox(port=0, **{**SANDBOX_OPTIONS, "days": 10}) as box:
        client = OutreachClient(box.base_url, StaticToken(box.full_token), sleep=no_sleep)
        for call in calls:
            client.create_call(call)
        yield box
