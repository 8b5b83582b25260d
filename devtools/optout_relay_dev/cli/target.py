"""Where the relay's resources are: the local emulation (its state file) or a deployed
stack (the CloudFormation stack's outputs, credentials from the default AWS chain)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from optout_relay_dev.cli.errors import NO_CREDENTIALS, CliError, describe_aws_error
from optout_relay_dev.emulator import EmulatorState, read_state

STATE_FILE_NAME = "local.json"
DEFAULT_STATE_DIR = Path(".optout-relay")

# The stack outputs the CLI uses (template.yaml's Outputs).
QUEUE_URL = "QueueUrl"
QUEUE_ARN = "QueueArn"
DLQ_URL = "DeadLetterQueueUrl"
DLQ_ARN = "DeadLetterQueueArn"
TABLE = "ResultsTableName"
TARGETS_TABLE = "TargetsTableName"
FUNCTION = "FunctionName"
WEBHOOK_URL = "WebhookUrl"
WEBHOOK_SECRET = "WebhookSecretArn"  # noqa: S105 - an output's name

_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)

StackNameOption = Annotated[
    str | None,
    typer.Option(
        "--stack-name",
        "-s",
        envvar="OPTOUT_RELAY_STACK_NAME",
        help="A deployed stack (its outputs locate the resources). Default: the local emulation.",
        show_default=False,
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option("--region", help="AWS region of --stack-name. Default: from your AWS configuration."),
]


@dataclass(frozen=True)
class Target:
    """The resources one command works on, and clients to reach them."""

    description: str
    session: Any
    region: str
    outputs: Mapping[str, str]
    endpoint_url: str | None = None
    local: EmulatorState | None = None
    stack_name: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_local(self) -> bool:
        return self.local is not None

    def output(self, name: str) -> str:
        value = self.outputs.get(name)
        if not value:
            raise CliError(f"{self.description} has no output {name}")
        return value

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG
            )
        return self._clients[service]


def state_file(state_dir: Path) -> Path:
    return state_dir / STATE_FILE_NAME


def local_target(state: EmulatorState) -> Target:
    return Target(
        description=f"the local emulation at {state.endpoint_url}",
        session=state.session(),
        region=state.region,
        outputs={
            QUEUE_URL: state.queue_url,
            QUEUE_ARN: state.queue_arn,
            DLQ_URL: state.dead_letter_queue_url,
            DLQ_ARN: state.dead_letter_queue_arn,
            TABLE: state.table_name,
            TARGETS_TABLE: state.targets_table_name,
            WEBHOOK_URL: state.webhook_url + "/" if state.webhook_url else "",
            WEBHOOK_SECRET: state.webhook_secret_arn,
        },
        endpoint_url=state.endpoint_url,
        local=state,
    )


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, finished but not yet reaped, counts as gone)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def running_state(state_dir: Path) -> EmulatorState | None:
    """The state of a running local emulation, or ``None``."""
    path = state_file(state_dir)
    try:
        state = read_state(path)
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read {path}: {error}; remove it and run `optout-relay local up`") from None
    if state is None or not process_alive(state.pid):
        return None
    return state


def resolve_local(state_dir: Path) -> Target:
    state = running_state(state_dir)
    if state is None:
        raise CliError(
            f"no local emulation is running (nothing in {state_file(state_dir)}): start one with "
            "`optout-relay local up`, or pass --stack-name for a deployed stack"
        )
    return local_target(state)


def resolve_stack(stack_name: str, region: str | None, required: Iterable[str]) -> Target:
    try:
        session = boto3.session.Session(region_name=region)
        if not session.region_name:
            raise CliError("no AWS region: pass --region or set AWS_REGION (or a region in your AWS profile)")
        if session.get_credentials() is None:
            raise CliError(NO_CREDENTIALS)
        cloudformation = session.client("cloudformation", config=_CLIENT_CONFIG)
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", ""))
        if "does not exist" in message:
            raise CliError(
                f"stack {stack_name!r} does not exist in {session.region_name} "
                "(check --stack-name and --region)"
            ) from None
        raise CliError(describe_aws_error(error)) from None
    except BotoCoreError as error:
        raise CliError(describe_aws_error(error)) from None
    stack = stacks[0]
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    status = stack.get("StackStatus", "UNKNOWN")
    missing = [name for name in required if not outputs.get(name)]
    if missing:
        raise CliError(
            f"stack {stack_name!r} ({status}) has no output {', '.join(missing)}: is it an "
            "optout-relay stack deployed from this template.yaml?"
        )
    return Target(
        description=f"stack {stack_name} in {session.region_name}",
        session=session,
        region=str(session.region_name),
        outputs=outputs,
        stack_name=stack_name,
    )


def resolve(
    stack_name: str | None, region: str | None, state_dir: Path, required: Iterable[str] = ()
) -> Target:
    """The deployed stack when ``stack_name`` is given, else the running local emulation."""
    if stack_name:
        return resolve_stack(stack_name, region, required)
    return resolve_local(state_dir)
