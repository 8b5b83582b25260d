"""The deadline watch's invariants: the index, the schedule, the watch function, the alarms.

Like ``invariants.py``, each ``check_*`` takes the loaded template and returns its
problems. What the code needs is read from the code: the index name and keys from
``aws/opt_out_index.py``, the metric names from ``domain/deadline_watch.py``, the
variables and AWS calls from the modules the watch's handler imports.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import invariants as inv

Template = dict[str, Any]

SCHEDULE_TYPE = "AWS::Scheduler::Schedule"
INDEX_READER = "aws/opt_out_index.py"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedules(template: Template) -> dict[str, dict[str, Any]]:
    return {logical_id: inv.props(r) for logical_id, r in inv.of_type(template, SCHEDULE_TYPE).items()}


def index_readers(template: Template) -> list[str]:
    """Functions whose code reads the ``by-received-day`` index."""
    return [
        function_id
        for function_id in inv.functions(template)
        if any(path.name == "opt_out_index.py" for path in inv.function_modules(template, function_id))
    ]


def the_watch(template: Template) -> tuple[str, str, dict[str, Any]] | None:
    """(schedule id, function id, schedule properties) of the schedule that runs an index reader."""
    readers = index_readers(template)
    for schedule_id, schedule in schedules(template).items():
        target = inv.getatt((schedule.get("Target") or {}).get("Arn"))
        if target and target[1] == "Arn" and target[0] in readers:
            return schedule_id, target[0], schedule
    return None


def interval_seconds(expression: Any) -> int | None:
    """``rate(1 hour)`` -> 3600; ``None`` for anything else (a cron runs at uneven times)."""
    match = _RATE.match(str(expression))
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


# ------------------------------------------------------------------ the index


def check_received_day_index(template: Template) -> list[str]:
    """The ledger has the index ``aws/opt_out_index.py`` queries: its name, keys (S), all attributes."""
    from optout_relay.aws.opt_out_index import DAY_KEY, INDEX_NAME, ORDER_KEY

    found = inv.table_of(template, "RESULTS_TABLE_NAME")
    if found is None:
        return ["RESULTS_TABLE_NAME names no table"]
    table_id, resource = found
    table = inv.props(resource)
    indexes = {i.get("IndexName"): i for i in inv.as_list(table.get("GlobalSecondaryIndexes"))}
    index = indexes.get(INDEX_NAME)
    if index is None:
        return [f"{table_id} has no global secondary index {INDEX_NAME}"]
    problems = []
    key_schema = [(k.get("AttributeName"), k.get("KeyType")) for k in inv.as_list(index.get("KeySchema"))]
    if key_schema != [(DAY_KEY, "HASH"), (ORDER_KEY, "RANGE")]:
        problems.append(f"{INDEX_NAME} KeySchema {key_schema} differs from aws/opt_out_index.py")
    types = {
        a.get("AttributeName"): a.get("AttributeType") for a in inv.as_list(table.get("AttributeDefinitions"))
    }
    if (types.get(DAY_KEY), types.get(ORDER_KEY)) != ("S", "S"):
        problems.append(f"{INDEX_NAME} key attributes are not both strings (S): {types}")
    if (index.get("Projection") or {}).get("ProjectionType") != "ALL":
        problems.append(f"{INDEX_NAME} does not project ALL attributes: the report reads every one")
    return problems


# ------------------------------------------------------------------ the schedule


def check_deadline_watch_schedule(template: Template) -> list[str]:
    """An hourly, enabled schedule runs the watch, retries a run it cannot deliver, keeps it
    in a dead-letter queue of its own, and invokes with a role that can do nothing else."""
    found = the_watch(template)
    if found is None:
        return [f"no {SCHEDULE_TYPE} runs a function that reads the by-received-day index"]
    schedule_id, function_id, schedule = found
    target = schedule.get("Target") or {}
    problems = []
    if interval_seconds(schedule.get("ScheduleExpression")) != 3600:
        problems.append(f"{schedule_id} does not run every hour: {schedule.get('ScheduleExpression')!r}")
    if schedule.get("State", "ENABLED") != "ENABLED":
        problems.append(f"{schedule_id} is not ENABLED")
    retries = (target.get("RetryPolicy") or {}).get("MaximumRetryAttempts")
    if not isinstance(retries, int) or retries < 1:
        problems.append(f"{schedule_id} has no RetryPolicy retrying a run it could not deliver")
    queue = _schedule_dead_letter_queue(template, schedule_id, target, problems)
    problems += _schedule_role_problems(template, schedule_id, target, function_id, queue)
    return problems


def _schedule_dead_letter_queue(
    template: Template, schedule_id: str, target: dict[str, Any], problems: list[str]
) -> str | None:
    arn = inv.getatt((target.get("DeadLetterConfig") or {}).get("Arn"))
    queues = inv.of_type(template, "AWS::SQS::Queue")
    if not arn or arn[1] != "Arn" or arn[0] not in queues:
        problems.append(f"{schedule_id} has no DeadLetterConfig on a queue of this template")
        return None
    if arn[0] in inv.source_queues(template) or arn[0] == inv.dead_letter_queue_id(template):
        problems.append(f"{schedule_id} dead-letters to {arn[0]}, a queue of opt-outs")
    return arn[0]


def _schedule_role_problems(
    template: Template, schedule_id: str, target: dict[str, Any], function_id: str, queue: str | None
) -> list[str]:
    role = inv.getatt(target.get("RoleArn"))
    roles = inv.of_type(template, "AWS::IAM::Role")
    if not role or role[0] not in roles:
        return [f"{schedule_id} RoleArn is not a role of this template"]
    principals = {
        json.dumps((statement.get("Principal") or {}).get("Service"))
        for statement in inv.as_list(
            (inv.props(roles[role[0]]).get("AssumeRolePolicyDocument") or {}).get("Statement")
        )
    }
    problems = []
    if principals != {json.dumps("scheduler.amazonaws.com")}:
        problems.append(f"{role[0]} is not assumed by scheduler.amazonaws.com alone")
    expected = {("lambda:InvokeFunction", json.dumps({"Fn::GetAtt": [function_id, "Arn"]}))}
    if queue is not None:
        expected.add(("sqs:SendMessage", json.dumps({"Fn::GetAtt": [queue, "Arn"]})))
    granted = {
        (action, json.dumps(resource))
        for action, resources in inv.grants(template, role[0]).items()
        for resource in resources
    }
    problems += [f"{role[0]} does not allow {a} on {r}" for a, r in sorted(expected - granted)]
    problems += [
        f"{role[0]} allows {a} on {r}, which the schedule does not need"
        for a, r in sorted(granted - expected)
    ]
    return problems


# ------------------------------------------------------------------ the watch function


def check_deadline_watch_function(template: Template) -> list[str]:
    """The watch reads the relay's ledger and publishes where the relay's metrics go; its
    environment holds every variable its code reads, and its settings accept every value
    the template's parameters allow."""
    found = the_watch(template)
    if found is None:
        return ["no scheduled function reads the by-received-day index"]
    _, function_id, _ = found
    env, relay_env = inv.environment(template, function_id), inv.environment(template)
    needed = inv.env_vars_the_template_must_set(modules=inv.function_modules(template, function_id))
    problems = inv.check_environment_defined(template, needed, function_id)
    for variable in ("RESULTS_TABLE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME"):
        own, relays = env.get(variable), relay_env.get(variable)
        if own != relays:
            problems.append(f"{function_id} {variable} is {own!r}, not the relay's {relays!r}")
    problems += _watch_settings_problems(template, function_id)
    return problems


def _watch_settings_problems(template: Template, function_id: str) -> list[str]:
    from optout_relay.errors import ConfigurationError
    from optout_relay.watch_settings import WatchSettings

    problems = []
    for bound in ("Default", "MinValue", "MaxValue"):
        try:
            WatchSettings.from_env(inv.resolved_environment(template, function_id, bound))
        except ConfigurationError as error:
            problems.append(f"{function_id} with parameters at their {bound}: {error}")
    return problems


# ------------------------------------------------------------------ the alarms


def _watch_alarms(template: Template, metric: str) -> list[tuple[str, dict[str, Any]]]:
    """Alarms on one of the watch's metrics, in the relay's namespace, with its service dimension."""
    env = inv.environment(template)
    wanted_dims = {"service": env.get("POWERTOOLS_SERVICE_NAME")}
    found = []
    for alarm_id, resource in inv.of_type(template, "AWS::CloudWatch::Alarm").items():
        alarm = inv.props(resource)
        dims = {d.get("Name"): d.get("Value") for d in inv.as_list(alarm.get("Dimensions"))}
        if (
            alarm.get("MetricName") == metric
            and alarm.get("Namespace") == env.get("POWERTOOLS_METRICS_NAMESPACE")
            and dims == wanted_dims
        ):
            found.append((alarm_id, alarm))
    return found


def check_deadline_alarms(template: Template) -> list[str]:
    """An alarm on any opt-out due soon and on any overdue, each looking at no less than one
    run's figure, that a missed run neither raises nor clears; an alarm when runs stop; all
    of them and the watch's metrics on the dashboard."""
    from optout_relay.domain.deadline_watch import DUE_SOON_METRIC, OPEN_METRIC, OVERDUE_METRIC

    found = the_watch(template)
    interval = interval_seconds(found[2].get("ScheduleExpression")) if found else None
    problems = []
    deadline_alarms = []
    for metric in (DUE_SOON_METRIC, OVERDUE_METRIC):
        alarms = _watch_alarms(template, metric)
        if not alarms:
            problems.append(f"no alarm on {metric}")
        for alarm_id, alarm in alarms:
            deadline_alarms.append(alarm_id)
            if (alarm.get("ComparisonOperator"), str(alarm.get("Threshold"))) != (
                "GreaterThanThreshold",
                "0",
            ):
                problems.append(f"{alarm_id} does not fire on a single opt-out (> 0)")
            if alarm.get("TreatMissingData") != "ignore":
                problems.append(f"{alarm_id} TreatMissingData is not ignore: a missed run would change it")
            if interval is not None and int(alarm.get("Period", 0)) < interval:
                problems.append(f"{alarm_id} Period is shorter than the schedule's {interval} s")
    heartbeats = [
        alarm_id
        for alarm_id, alarm in _watch_alarms(template, OPEN_METRIC)
        if alarm.get("TreatMissingData") == "breaching"
    ]
    if not heartbeats:
        problems.append(f"no alarm on missed runs ({OPEN_METRIC} missing, treated as breaching)")
    problems += _dashboard_problems(template, [*deadline_alarms, *heartbeats])
    return problems


def _dashboard_problems(template: Template, alarm_ids: list[str]) -> list[str]:
    env = inv.environment(template)
    namespace = inv.ref(env.get("POWERTOOLS_METRICS_NAMESPACE"))
    resolved = inv.parameter(template, namespace) if namespace else None
    namespace_value = str((resolved or {}).get("Default", env.get("POWERTOOLS_METRICS_NAMESPACE")))
    dims = {"service": str(env.get("POWERTOOLS_SERVICE_NAME"))}
    lines = inv.dashboard_metrics(template)
    problems = [
        f"the dashboard does not show {metric}"
        for metric in sorted(inv.watch_metric_names())
        if not any(ns == namespace_value and m == metric and d == dims for ns, m, d, _ in lines)
    ]
    shown = inv.dashboard_alarms(template)
    problems += [f"the dashboard does not show {alarm_id}" for alarm_id in alarm_ids if alarm_id not in shown]
    return problems


CHECKS = (
    check_received_day_index,
    check_deadline_watch_schedule,
    check_deadline_watch_function,
    check_deadline_alarms,
)
