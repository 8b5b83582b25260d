"""Fixtures for the optout-relay CLI: a running emulation (moto server and both provider
simulators on loopback, the stack from template.yaml) registered in a state file, and a
runner that invokes the CLI in-process against it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from optout_relay_dev.cli import app
from optout_relay_dev.cli.ledger_view import query_phone
from optout_relay_dev.cli.target import state_file
from optout_relay_dev.emulator import Emulator, EmulatorState, MotoServer, write_state
from optout_relay_dev.simulators.base import ProviderSimulator
from typer.testing import CliRunner, Result

TRACKLY_LIST = "+18005550100"
TATANGO_LIST = 4242


@dataclass
class Cli:
    """Runs ``optout-relay --state-dir <tmp> ...`` in this process."""

    state_dir: Path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(
            app,
            ["--state-dir", str(self.state_dir), *args],
            input=input,
            env={"COLUMNS": "200", "NO_COLOR": "1"},
            catch_exceptions=False,
        )

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@dataclass
class Local:
    """A running emulation, with helpers that look at its queues and ledger directly."""

    emulator: Emulator

    @property
    def state(self) -> EmulatorState:
        return self.emulator.state

    def simulator(self, provider: str) -> ProviderSimulator:
        return self.emulator.simulators[provider]

    @property
    def sqs(self) -> Any:
        return self.state.client("sqs")

    def send(self, *bodies: dict[str, Any] | str) -> list[str]:
        ids = []
        for body in bodies:
            text = body if isinstance(body, str) else json.dumps(body)
            ids.append(self.sqs.send_message(QueueUrl=self.state.queue_url, MessageBody=text)["MessageId"])
        return ids

    def messages(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message in a queue, consumed (tests look, then are done with them)."""
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                VisibilityTimeout=60,
            ).get("Messages", [])
            if not batch:
                return found
            found.extend(batch)

    def peek(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message in a queue, left there (visible again)."""
        found = self.messages(queue_url)
        for message in found:
            self.sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return found

    def queue_bodies(self) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.messages(self.state.queue_url)]

    def depth(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def ledger(self, phone: str) -> list[dict[str, Any]]:
        return query_phone(self.state.client("dynamodb"), self.state.table_name, phone)

    def subscribe(self, trackly: Sequence[str] = (), tatango: Sequence[str] = ()) -> None:
        for phone in trackly:
            self.simulator("trackly").subscribe(TRACKLY_LIST, phone)
        for phone in tatango:
            self.simulator("tatango").subscribe(str(TATANGO_LIST), phone)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def cli(state_dir: Path) -> Cli:
    return Cli(state_dir)


@pytest.fixture(scope="package")
def moto_server() -> Iterator[MotoServer]:
    """One moto server for the CLI tests; each test gets its own stack on it."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def local(state_dir: Path, moto_server: MotoServer) -> Iterator[Local]:
    """An emulation in this process (fresh simulators, a fresh stack from template.yaml),
    registered as the running `local up` emulation."""
    with Emulator(prefix=f"cli-test-{uuid.uuid4().hex[:8]}", moto=moto_server) as emulator:
        emulator.simulators["trackly"].add_list(TRACKLY_LIST)
        emulator.simulators["tatango"].add_list(str(TATANGO_LIST))
        write_state(state_file(state_dir), emulator.state)
        yield Local(emulator)


def write_csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path
