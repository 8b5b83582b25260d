"""The ``optout-relay`` command: typer app, shared options, one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from typer.core import TyperGroup

from optout_relay_dev.cli.app_context import AppContext
from optout_relay_dev.cli.demo import demo
from optout_relay_dev.cli.dlq import dlq_app
from optout_relay_dev.cli.errors import CliError, describe_aws_error
from optout_relay_dev.cli.invoke import invoke
from optout_relay_dev.cli.local import local_app
from optout_relay_dev.cli.publish import publish
from optout_relay_dev.cli.report import report
from optout_relay_dev.cli.status import status
from optout_relay_dev.cli.target import DEFAULT_STATE_DIR
from optout_relay_dev.cli.targets import targets_app
from optout_relay_dev.cli.watch import watch
from optout_relay_dev.cli.webhooks import webhooks_app
from optout_relay_dev.emulator import EmulatorError


class RelayGroup(TyperGroup):
    """Shows a user's mistake, or any AWS SDK failure, as one line (no stack trace)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as error:
            error.show()
            raise typer.Exit(error.exit_code) from None
        except EmulatorError as error:
            CliError(str(error)).show()
            raise typer.Exit(1) from None
        except (BotoCoreError, ClientError) as error:
            CliError(describe_aws_error(error)).show()
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=RelayGroup,
    name="optout-relay",
    help="Run the opt-out relay locally, and publish, audit and redrive opt-outs on a deployed stack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    state_dir: Annotated[
        Path,
        typer.Option(
            "--state-dir",
            envvar="OPTOUT_RELAY_STATE_DIR",
            help="Where the local emulation's state file and the logs go.",
        ),
    ] = DEFAULT_STATE_DIR,
) -> None:
    ctx.obj = AppContext(state_dir=state_dir)


app.command()(demo)
app.command()(publish)
app.command()(status)
app.command()(report)
app.command()(invoke)
app.command()(watch)
app.add_typer(dlq_app, name="dlq")
app.add_typer(local_app, name="local")
app.add_typer(targets_app, name="targets")
app.add_typer(webhooks_app, name="webhooks")


def main() -> None:
    app()
