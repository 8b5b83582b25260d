"""Run one provider simulator as its own process.

    python -m optout_relay_dev.simulators trackly --port 0 --api-key-env TRACKLY_KEY

Once listening it prints one JSON line, ``{"provider": ..., "base_url": ...}``, on
stdout, then serves until SIGTERM or SIGINT. Give keys through an environment
variable rather than ``--api-key`` where other users can read the process list.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType

from optout_relay_dev.simulators.base import ProviderSimulator, SimulatorOptions
from optout_relay_dev.simulators.faults import FaultRates
from optout_relay_dev.simulators.tatango import RateLimit, TatangoSimulator
from optout_relay_dev.simulators.trackly import TracklySimulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m optout_relay_dev.simulators", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("provider", choices=("trackly", "tatango"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (default)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random faults")
    parser.add_argument(
        "--faults-per-request",
        action="store_true",
        help="draw faults per distinct request, not in arrival order: replayable with several clients",
    )
    faults = parser.add_argument_group("random faults (probability per request)")
    faults.add_argument("--rate-limit-rate", type=float, default=0.0, help="429 with Retry-After")
    faults.add_argument("--server-error-rate", type=float, default=0.0, help="500, 502 or 503")
    faults.add_argument("--slow-rate", type=float, default=0.0, help="answer after --slow-seconds")
    faults.add_argument("--drop-rate", type=float, default=0.0, help="close without answering")
    faults.add_argument("--slow-seconds", type=float, default=5.0)
    faults.add_argument("--retry-after", default="1", help="Retry-After of random 429s")
    state = parser.add_argument_group("state and credentials")
    state.add_argument("--state", type=Path, help="JSON file of lists, subscribers and keys")
    state.add_argument("--api-key", help="an accepted API key (visible in the process list)")
    state.add_argument("--api-key-env", metavar="NAME", help="read the API key from this variable")
    state.add_argument("--email", default="relay@example.com", help="tatango login email")
    state.add_argument("--calls-out", type=Path, help="write the recorded calls here on exit")
    tatango = parser.add_argument_group("tatango only")
    tatango.add_argument("--status-text", default=None, help="status of a successful unsubscribe")
    tatango.add_argument("--disabled-status", type=int, choices=(401, 403), default=401)
    tatango.add_argument("--account-limit", type=int, metavar="CALLS", help="calls per window")
    tatango.add_argument("--account-window", type=float, default=3600.0, metavar="SECONDS")
    tatango.add_argument("--firewall", action="store_true", help="answer 403 HTML to everything")
    trackly = parser.add_argument_group("trackly only")
    trackly.add_argument("--suspended", action="store_true", help="answer 403 to valid keys")
    return parser


def build_simulator(args: argparse.Namespace) -> ProviderSimulator:
    rates = FaultRates(
        rate_limited=args.rate_limit_rate,
        server_error=args.server_error_rate,
        slow=args.slow_rate,
        drop=args.drop_rate,
        slow_seconds=args.slow_seconds,
        retry_after=args.retry_after,
    )
    options: SimulatorOptions = {
        "host": args.host,
        "port": args.port,
        "latency_seconds": args.latency_ms / 1000.0,
        "fault_rates": rates,
        "seed": args.seed,
        "faults_per_request": args.faults_per_request,
    }
    api_key = args.api_key or (os.environ.get(args.api_key_env) if args.api_key_env else None)
    simulator: TracklySimulator | TatangoSimulator
    if args.provider == "trackly":
        simulator = TracklySimulator(**options)
        if args.suspended:
            simulator.suspend()
    else:
        limit = RateLimit(args.account_limit, args.account_window) if args.account_limit else None
        simulator = TatangoSimulator(
            disabled_status=args.disabled_status,
            rate_limit=limit,
            **options,
        )
        if args.status_text:
            simulator.status_text = args.status_text
        if args.firewall:
            simulator.set_firewall(403)
    if args.state:
        simulator.load_state(json.loads(args.state.read_text()))
    if api_key:
        if isinstance(simulator, TracklySimulator):
            simulator.rotate_key(api_key, keep_old=True)
        else:
            simulator.set_credentials(args.email, api_key)
    return simulator


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.api_key_env and not os.environ.get(args.api_key_env):
        parser.error(f"the variable {args.api_key_env} is not set")
    try:
        simulator = build_simulator(args)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with simulator:
        print(json.dumps({"provider": simulator.name, "base_url": simulator.base_url}), flush=True)
        stop.wait()
    if args.calls_out:
        calls = [asdict(call) for call in simulator.calls]
        args.calls_out.write_text(json.dumps(calls, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
