"""The embedded emulation: AWS played by moto's server mode, every registered provider
played by its simulator (``simulators.registry``), and the relay's stack created from
template.yaml, all on loopback.

In-process (``with Emulator() as emulator: ...``) it serves ``optout-relay demo``,
``invoke`` and the tests. As a background process (``python -m
optout_relay_dev.emulator --state-file ...``, started by ``optout-relay local up``)
it writes an ``EmulatorState`` JSON file that the other subcommands read to find the
endpoint, the resources and the function's environment.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any, Self

import boto3
import yaml

from optout_relay_dev.lifecycle import Startable
from optout_relay_dev.local_stack import LocalStack, create_local_stack
from optout_relay_dev.moto_server import quiet_werkzeug
from optout_relay_dev.simulators.base import ProviderSimulator, SimulatorOptions
from optout_relay_dev.simulators.faults import FaultRates
from optout_relay_dev.simulators.registry import SIMULATORS, local_secrets
from optout_relay_dev.template import StackShape
from optout_relay_dev.webhook_server import LocalWebhookReceiver

LOOPBACK = "127.0.0.1"
REGION = "us-east-1"
# moto accepts any credentials; these only have to exist so boto3 signs requests.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Local runs compress time: short provider timeouts and retry waits, and no pacing of
# provider calls (the simulators enforce no account rate limit unless told to).
LOCAL_FUNCTION_OVERRIDES = {
    "PROVIDER_TIMEOUT_SECONDS": "1",
    "RETRY_MAX_DELAY_SECONDS": "1",
    **{f"{name.upper()}_MAX_RPS": "unlimited" for name in SIMULATORS},
    "POWERTOOLS_TRACE_DISABLED": "true",
}
STATE_VERSION = 1
# Webhook retries come a hundred times sooner than the providers': Tatango's first after 0.15 s.
LOCAL_WEBHOOK_TIME_SCALE = 0.01


@dataclass(frozen=True)
class EmulatorState:
    """Where a running emulation is: everything a client or the local poller needs."""

    endpoint_url: str
    region: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    dead_letter_queue_arn: str
    table_name: str
    secret_arns: dict[str, str]
    simulator_urls: dict[str, str]
    max_receive_count: int
    # The function's environment as template.yaml wires it, pointed at this emulation.
    function_environment: dict[str, str]
    targets_table_name: str = ""
    # The webhook receiver on loopback (its function URL's stand-in) and its secret.
    webhook_url: str = ""
    webhook_secret_arn: str = ""
    pid: int = field(default_factory=os.getpid)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    log_file: str | None = None
    version: int = STATE_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> EmulatorState:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("version") != STATE_VERSION:
            raise ValueError("not an optout-relay emulator state file of this version")
        names = set(cls.__dataclass_fields__)
        try:
            return cls(**{key: value for key, value in document.items() if key in names})
        except TypeError:
            raise ValueError("the state file lacks fields (written by another version?)") from None

    def session(self) -> Any:
        return boto3.session.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=self.region,
        )

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)


def write_state(path: Path, state: EmulatorState) -> None:
    """Atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(state.to_json(), encoding="utf-8")
    os.replace(partial, path)


def read_state(path: Path) -> EmulatorState | None:
    """The state in ``path``; ``None`` if there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return EmulatorState.from_json(text)


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError as error:
            raise OSError(f"port {port} on {LOOPBACK} is not free ({error.strerror})") from None


class EmulatorError(Exception):
    """The emulation could not start (no template.yaml, a port in use, ...)."""


class MotoServer(Startable):
    """moto's server mode (with atomic DynamoDB writes, ``moto_server.py``) on a free
    loopback port: a real HTTP endpoint that boto3 reaches with ``endpoint_url`` /
    ``AWS_ENDPOINT_URL``."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._server: Any = None
        self._endpoint_url: str | None = None

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError("the moto server is not running")
        return self._endpoint_url

    def start(self) -> Self:
        from optout_relay_dev.moto_server import AtomicMotoServer  # imports moto: only when needed

        if self.port:
            _check_port_free(self.port)
        quiet_werkzeug()
        server = AtomicMotoServer(LOOPBACK, self.port)
        server.start()
        self._server, self._endpoint_url = server, server.endpoint_url
        return self

    def stop(self) -> None:
        server, self._server, self._endpoint_url = self._server, None, None
        if server is not None:
            server.stop()


class Emulator(Startable):
    """moto server + one simulator per provider + the stack from template.yaml.

    Pass a running ``moto`` server to share it (the emulator then leaves it running).
    moto keeps its state per process, so emulators that share a process need different
    ``prefix`` values (the resource names).
    """

    def __init__(
        self,
        *,
        prefix: str = "optout-relay",
        fault_rates: FaultRates | None = None,
        seed: int | None = None,
        function_overrides: Mapping[str, str] | None = None,
        shape: StackShape | None = None,
        port: int = 0,
        moto: MotoServer | None = None,
        receiver_log: IO[str] | None = None,
        webhook_time_scale: float = LOCAL_WEBHOOK_TIME_SCALE,
    ) -> None:
        """``receiver_log``: where the webhook receiver's logs and metrics go (default:
        nowhere). ``webhook_time_scale`` shrinks the providers' webhook retry schedules."""
        self.prefix = prefix
        self.receiver_log = receiver_log
        self.receiver: LocalWebhookReceiver | None = None
        self.shape = shape
        self.function_overrides = {**LOCAL_FUNCTION_OVERRIDES, **(function_overrides or {})}
        self.simulators: dict[str, ProviderSimulator] = {}
        for index, (name, simulator) in enumerate(SIMULATORS.items()):
            options: SimulatorOptions = {
                "host": LOOPBACK,
                "seed": None if seed is None else seed + index,
                "webhook_time_scale": webhook_time_scale,
            }
            if fault_rates is not None:
                options["fault_rates"] = fault_rates
            self.simulators[name] = simulator.for_local(**options)
        self._owns_moto = moto is None
        self.moto = moto or MotoServer(port)
        self._state: EmulatorState | None = None
        self.stack: LocalStack | None = None

    @property
    def state(self) -> EmulatorState:
        if self._state is None:
            raise RuntimeError("the emulator is not running")
        return self._state

    @property
    def running(self) -> bool:
        return self._state is not None

    def start(self) -> Self:
        if self._state is not None:
            raise RuntimeError("the emulator is already running")
        try:
            if self._owns_moto:
                self.moto.start()
            endpoint_url = self.moto.endpoint_url
            for simulator in self.simulators.values():
                simulator.start()
            session = boto3.session.Session(
                aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                region_name=REGION,
            )
            overrides = {
                **self.function_overrides,
                **{f"{name.upper()}_BASE_URL": sim.base_url for name, sim in self.simulators.items()},
            }
            stack = create_local_stack(
                session,
                prefix=self.prefix,
                secrets=local_secrets(),
                overrides=overrides,
                shape=self.shape,
                endpoint_url=endpoint_url,
            )
            self.receiver = LocalWebhookReceiver(
                stack.receiver_environment,
                session=session,
                endpoint_url=endpoint_url,
                host=LOOPBACK,
                log=self.receiver_log,
            ).start()
        except (OSError, ValueError, KeyError, yaml.YAMLError) as error:
            self.stop()
            raise EmulatorError(f"the local emulation could not start: {error}") from error
        except BaseException:
            self.stop()
            raise
        self.stack = stack
        self._state = EmulatorState(
            endpoint_url=endpoint_url,
            region=REGION,
            queue_url=stack.queue_url,
            queue_arn=stack.queue_arn,
            dead_letter_queue_url=stack.dead_letter_queue_url,
            dead_letter_queue_arn=stack.dead_letter_queue_arn,
            table_name=stack.table_name,
            targets_table_name=stack.targets_table_name,
            secret_arns=dict(stack.secret_arns),
            simulator_urls={name: simulator.base_url for name, simulator in self.simulators.items()},
            max_receive_count=stack.max_receive_count,
            webhook_url=self.receiver.base_url,
            webhook_secret_arn=stack.webhook_secret_arn,
            function_environment={
                **stack.environment,
                **DUMMY_CREDENTIALS,
                "AWS_ENDPOINT_URL": endpoint_url,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            },
        )
        return self

    def stop(self) -> None:
        self._state = None
        receiver, self.receiver = self.receiver, None
        if receiver is not None:
            receiver.stop()
        for simulator in self.simulators.values():
            simulator.stop()
        if self._owns_moto:
            self.moto.stop()

    def seed_subscriptions(self, document: Mapping[str, Any]) -> None:
        """``{provider: {"lists": {list: [E.164 numbers]}}}``: each simulator's ``load_state``
        format, for the subscriptions the run should find."""
        for name, state in document.items():
            if name not in self.simulators:
                raise ValueError(f"no simulator for provider {name!r} (known: {', '.join(self.simulators)})")
            self.simulators[name].load_state(state)


# ------------------------------------------------------------------ background process
READY_LINE = "optout-relay-emulator-ready"


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m optout_relay_dev.emulator",
        description="Serve the local emulation until SIGTERM (started by `optout-relay local up`).",
    )
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--log-file", type=Path, default=None)
    parser.add_argument("--seed-state", type=Path, default=None, help="simulator subscriptions (JSON)")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--port", type=int, default=0)
    return parser.parse_args(argv)


def fault_rates_for(rate: float, provider_timeout: float = 1.0) -> FaultRates:
    """Split a total per-request fault rate over 429s, 5xx, dropped and slow answers.

    A 429's ``Retry-After: 2`` is above the local retry cap, so the record goes back to
    the queue for two seconds (the queue-level retry); the others are retried in the
    invocation. A slow answer outlasts the provider timeout.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError("the fault rate is a probability between 0 and 1")
    return FaultRates(
        rate_limited=rate * 0.4,
        server_error=rate * 0.3,
        drop=rate * 0.2,
        slow=rate * 0.1,
        slow_seconds=provider_timeout + 0.5,
        retry_after="2",
    )


def serve(argv: Sequence[str] | None = None) -> int:
    """Run the emulation until SIGTERM/SIGINT, with its state in ``--state-file``."""
    args = _parse_args(argv)
    if args.log_file:
        args.log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(args.log_file, encoding="utf-8")
        quiet_werkzeug(handler)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with contextlib.ExitStack() as resources:
        receiver_log = (
            resources.enter_context(args.log_file.open("a", encoding="utf-8")) if args.log_file else None
        )
        return _serve(args, stop, receiver_log)


def _serve(args: argparse.Namespace, stop: threading.Event, receiver_log: IO[str] | None) -> int:
    emulator = Emulator(
        fault_rates=fault_rates_for(args.fault_rate) if args.fault_rate else None,
        seed=args.seed,
        port=args.port,
        receiver_log=receiver_log,
    )
    try:
        emulator.start()
    except EmulatorError as error:
        print(error, file=sys.stderr, flush=True)
        return 1
    try:
        if args.seed_state:
            emulator.seed_subscriptions(json.loads(args.seed_state.read_text(encoding="utf-8")))
        state = emulator.state
        if args.log_file:
            state = EmulatorState(**{**asdict(state), "log_file": str(args.log_file)})
        write_state(args.state_file, state)
        print(READY_LINE, flush=True)
        # Nobody reads stdout any more (`local up` has returned): nothing may write to it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        stop.wait()
    finally:
        emulator.stop()
    current = _safe_read(args.state_file)
    if current is not None and current.pid == os.getpid():
        args.state_file.unlink(missing_ok=True)
    return 0


def _safe_read(path: Path) -> EmulatorState | None:
    try:
        return read_state(path)
    except (OSError, ValueError):
        return None


if __name__ == "__main__":
    sys.exit(serve())
