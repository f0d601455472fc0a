"""The secret scan itself: it must find a planted secret wherever the app could emit one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import SecretScan

pytestmark = pytest.mark.browser

TOKEN = "tok_0123456789abcdefghij"


def test_a_secret_in_a_frame_a_url_or_a_file_is_found_and_named_not_quoted(tmp_path: Path):
    scan = SecretScan()
    scan.add_secret("access token", TOKEN)
    scan.check("a WebSocket frame", b"\x00\x01" + TOKEN.encode() + b"\xff", "frames")
    scan.check("a URL", f"http://127.0.0.1/?t={TOKEN}", "urls")
    scan.check("clean HTML", "<p>nothing here</p>", "pages")
    (tmp_path / "cache" / "deep").mkdir(parents=True)
    (tmp_path / "cache" / "deep" / "entry.pickle").write_bytes(b"..." + TOKEN.encode())
    (tmp_path / "cache" / "clean.bin").write_bytes(b"nothing")
    scan.add_path(tmp_path / "cache")
    scan.check_paths()

    assert scan.findings == [
        "access token in a WebSocket frame",
        "access token in a URL",
        f"access token in {tmp_path / 'cache' / 'deep' / 'entry.pickle'}",
    ]
    assert all(TOKEN not in finding for finding in scan.findings)
    assert scan.scanned["files"] == 2


def test_redact_replaces_secrets_by_their_labels():
    scan = SecretScan()
    scan.add_secret("client secret", "s3cr3t-value-long-enough")
    assert scan.redact("x s3cr3t-value-long-enough y") == "x <client secret> y"


def test_short_secrets_are_refused_rather_than_searched():
    with pytest.raises(ValueError):
        SecretScan().add_secret("pin", "1234")
