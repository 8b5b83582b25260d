"""Lambda entry point of the deadline watch, run every hour by an EventBridge schedule.

Reads the open opt-outs through the ledger's ``by-received-day`` index, publishes how
many are open, due within two business days and overdue (EMF metrics, the stack's
namespace; alarms watch them), and logs each one at risk with its unsettled targets.
"""

from __future__ import annotations

# isort: off
from optout_relay import init_phase  # first: the collector rests until the init is over
# isort: on

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from optout_relay.aws.opt_out_index import OptOutIndex
from optout_relay.errors import ConfigurationError
from optout_relay.observability import logger, metrics
from optout_relay.watch_settings import WatchSettings
from optout_relay.watcher import DeadlineWatcher, publish

try:
    settings = WatchSettings.from_env()
    watcher = DeadlineWatcher(OptOutIndex(settings.results_table_name), settings.lookback_days)
except ConfigurationError as error:
    logger.error(str(error))
    raise
finally:
    init_phase.finished()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    figures = watcher.run()
    publish(figures, metrics, logger)
    return figures.metrics()
