"""Command line: run the Outreach sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from . import start_sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lib.sandbox", description="A local imitation of the Outreach Calls API 1.0."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--end", default=None, help="ISO end of the history (default now, UTC)")
    parser.add_argument("--now", default=None,
                        help="ISO instant the sandbox's clock starts at and runs on from "
                             "(default the real time): the same history at every start")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--rate-limit", type=int, default=10_000, help="requests per token-hour")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="0..1")
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--db", default=".callboard/sandbox.sqlite", help="SQLite of created calls")
    parser.add_argument("--token-ttl", type=int, default=7200, help="seconds")
    parser.add_argument("--mint-interval", type=float, default=60,
                        help="seconds between access tokens per refresh-token family")
    parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris",
                        help="a redirect URI the OAuth app registers (repeatable): https://, or "
                             "http:// on loopback; none: any loopback URI")
    parser.add_argument("--rotate-refresh-tokens", action="store_true",
                        help="a refresh spends the refresh token it presents")
    parser.add_argument("--later-dispositions", type=float, default=0.2,
                        help="share of seeded calls whose disposition is set 5 min to 3 days "
                             "after they were logged (0: none)")
    parser.add_argument("--deletions", type=float, default=0.005,
                        help="share of seeded calls deleted 1 h to 3 days after they were "
                             "logged (0: none)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        sandbox = start_sandbox(
            host=args.host, port=args.port, seed=args.seed, reps=args.reps, days=args.days,
            end=args.end, now=args.now, latency_ms=args.latency_ms, rate_limit=args.rate_limit,
            fault_rate=args.fault_rate, fault_seed=args.fault_seed, db_path=args.db,
            token_ttl=args.token_ttl, mint_interval=args.mint_interval,
            redirect_uris=args.redirect_uris, rotate_refresh_tokens=args.rotate_refresh_tokens,
            later_dispositions=args.later_dispositions, deletions=args.deletions,
        )
    except (OSError, ValueError) as error:
        print(f"Outreach sandbox could not start: {error}", file=sys.stderr)
        return 2
    print(
        f"Outreach sandbox on {sandbox.base_url}  full token: {sandbox.full_token}"
        f"  read-only token: {sandbox.read_token}  client id: {sandbox.client_id}"
        f"  client secret: {sandbox.client_secret}  refresh token: {sandbox.refresh_token}",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
