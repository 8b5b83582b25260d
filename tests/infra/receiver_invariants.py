"""The webhook receiver's invariants (README, "Listening for STOPs"), like invariants.py's
for the relay: each ``check_*`` takes the loaded template and returns its problems.

What the receiver needs comes from its code: the environment variables it reads, the
AWS calls of its data layer (``webhook_receiver/aws``), the keys its secret must hold
(``credentials.SECRET_KEYS``), the metrics it emits (``observability.METRIC_NAMES``).
"""

from __future__ import annotations

import json
from typing import Any

from . import invariants as inv

Template = dict[str, Any]

# What each data-layer module of the receiver calls its AWS API on, by the variable naming it.
MODULE_RESOURCES = {
    "aws/queue.py": "OPTOUT_QUEUE_URL",
    "aws/ledger.py": "RESULTS_TABLE_NAME",
    "aws/secrets.py": "WEBHOOK_SECRET_ID",
}
MAX_TIMEOUT_SECONDS = 30  # a provider waits for the answer
MIN_TOKEN_LENGTH = 32
# The outcomes the dashboard shows per provider.
DASHBOARD_METRICS = (
    "WebhookPublished",
    "WebhookEcho",
    "WebhookIgnored",
    "WebhookUnauthorized",
    "WebhookInvalid",
    "WebhookPublishFailed",
)
# Answers that make a provider retry a STOP: the alarm must watch each, per provider.
NOT_PUBLISHED_METRICS = ("WebhookPublishFailed", "WebhookSecretUnavailable")


def the_receiver(template: Template) -> tuple[str, dict[str, Any]]:
    return inv.function_of_package(template, inv.RECEIVER_PACKAGE_NAME)


def receiver_environment(template: Template) -> dict[str, Any]:
    return inv.environment(template, the_receiver(template)[0])


def env_vars_the_receiver_must_set() -> set[str]:
    return inv.env_vars_the_template_must_set(inv.RECEIVER_PACKAGE)


def _refers(env: dict[str, Any], template: Template, variable: str, kind: str) -> str | None:
    target = inv.ref(env.get(variable))
    return target if inv.resources(template).get(str(target), {}).get("Type") == kind else None


def check_receiver_wiring(template: Template) -> list[str]:
    """The receiver publishes to the relay's source queue, reads the relay's ledger and its
    own secret (not a provider's), and its settings accept what the template deploys."""
    from webhook_receiver.errors import ConfigurationError
    from webhook_receiver.settings import Settings

    function_id, _ = the_receiver(template)
    env = receiver_environment(template)
    problems = inv.check_environment_defined(template, env_vars_the_receiver_must_set(), function_id)
    queue = _refers(env, template, "OPTOUT_QUEUE_URL", "AWS::SQS::Queue")
    if queue is None or queue not in inv.source_queues(template):
        problems.append("OPTOUT_QUEUE_URL is not a Ref to the relay's source queue")
    table = _refers(env, template, "RESULTS_TABLE_NAME", "AWS::DynamoDB::Table")
    relay_table = inv.table_of(template, "RESULTS_TABLE_NAME")
    if table is None or relay_table is None or table != relay_table[0]:
        problems.append("RESULTS_TABLE_NAME is not a Ref to the relay's ledger")
    secret = _refers(env, template, "WEBHOOK_SECRET_ID", "AWS::SecretsManager::Secret")
    relay_env = inv.environment(template)
    if secret is None or {"Ref": secret} in relay_env.values():
        problems.append("WEBHOOK_SECRET_ID is not a Ref to a secret of its own (not the relay's)")
    from webhook_receiver.observability import SERVICE

    if env.get("POWERTOOLS_SERVICE_NAME") != SERVICE:
        problems.append(f"POWERTOOLS_SERVICE_NAME is not {SERVICE!r}, the service the receiver's code names")
    try:
        Settings.from_env(inv.resolved_environment(template, function_id))
    except ConfigurationError as error:
        problems.append(str(error))
    return problems


def expected_receiver_grants(template: Template) -> tuple[set[tuple[str, str]], list[str]]:
    """(action, resource) pairs the receiver needs, from its data layer's AWS calls."""
    function_id, _ = the_receiver(template)
    env = receiver_environment(template)
    problems: list[str] = []
    logging = inv.function_property(template, "LoggingConfig", function_id) or {}
    log_group = {"Fn::GetAtt": [inv.ref(logging.get("LogGroup")), "Arn"]}
    expected = {(action, json.dumps(log_group, sort_keys=True)) for action in inv.LOG_ACTIONS}
    for module, actions in inv.aws_calls_by_module(inv.RECEIVER_PACKAGE).items():
        variable = MODULE_RESOURCES.get(module)
        if variable is None:
            problems.append(f"{module} calls {actions}: say in MODULE_RESOURCES on what")
            continue
        target = inv.ref(env.get(variable))
        kind = inv.resources(template).get(str(target), {}).get("Type")
        resource = (
            {"Ref": target} if kind == "AWS::SecretsManager::Secret" else {"Fn::GetAtt": [target, "Arn"]}
        )
        expected |= {(action, json.dumps(resource, sort_keys=True)) for action in actions}
    return expected, problems


def check_receiver_grants(template: Template) -> list[str]:
    """The receiver's role allows exactly what its code calls, on its resources only."""
    function_id, _ = the_receiver(template)
    role = inv.function_role_id(template, function_id)
    if role is None:
        return [f"{function_id} has no Role of this template"]
    granted = {
        (action, json.dumps(resource, sort_keys=True))
        for action, resources in inv.grants(template, role).items()
        for resource in resources
    }
    expected, problems = expected_receiver_grants(template)
    for action, resource in sorted(expected - granted):
        problems.append(f"role {role} does not allow {action} on {resource}")
    for action, resource in sorted(granted - expected):
        problems.append(f"role {role} allows {action} on {resource}, which nothing needs")
    return problems


def check_receiver_endpoint(template: Template) -> list[str]:
    """A function URL the providers can call (AuthType NONE: the function authenticates
    every request), buffered, and a timeout a provider's wait allows."""
    function_id, function = the_receiver(template)
    problems = []
    url = function.get("FunctionUrlConfig") or {}
    if url.get("AuthType") != "NONE":
        problems.append(
            f"{function_id} FunctionUrlConfig.AuthType is not NONE: the providers cannot sign AWS requests"
        )
    if url.get("InvokeMode", "BUFFERED") != "BUFFERED":
        problems.append(f"{function_id} FunctionUrlConfig.InvokeMode is not BUFFERED")
    _, timeout = inv.number_bounds(template, inv.function_property(template, "Timeout", function_id), 3)
    if timeout > MAX_TIMEOUT_SECONDS:
        problems.append(
            f"{function_id} Timeout {timeout:g} s: a provider waiting for the answer gives up first"
        )
    return problems


def check_webhook_secret(template: Template) -> list[str]:
    """The secret is generated: a long random value, URL-safe (it goes in a callback URL),
    for a key the code reads, in a template holding the code's other keys empty."""
    from webhook_receiver.credentials import SECRET_KEYS

    secret = inv.ref(receiver_environment(template).get("WEBHOOK_SECRET_ID"))
    found = inv.of_type(template, "AWS::SecretsManager::Secret").get(str(secret))
    if found is None:
        return ["WEBHOOK_SECRET_ID names no secret of this template"]
    generate = inv.props(found).get("GenerateSecretString")
    if not isinstance(generate, dict):
        return [f"{secret} is not generated (GenerateSecretString)"]
    problems = []
    key = generate.get("GenerateStringKey")
    try:
        placeholder = json.loads(str(generate.get("SecretStringTemplate")))
    except ValueError:
        placeholder = None
    if not isinstance(placeholder, dict):
        return [f"{secret} SecretStringTemplate is not a JSON object"]
    if key not in SECRET_KEYS:
        problems.append(f"{secret} generates {key!r}, which the code does not read")
    if set(placeholder) | {key} != set(SECRET_KEYS):
        problems.append(
            f"{secret} holds {sorted(set(placeholder) | {key})}, the code reads {sorted(SECRET_KEYS)}"
        )
    if any(value != "" for value in placeholder.values()):
        problems.append(f"{secret} SecretStringTemplate holds values; keep placeholders empty")
    if int(generate.get("PasswordLength", 32)) < MIN_TOKEN_LENGTH:
        problems.append(f"{secret} PasswordLength is below {MIN_TOKEN_LENGTH}")
    if generate.get("ExcludePunctuation") is not True:
        problems.append(f"{secret} may generate punctuation, which a callback URL would have to escape")
    return problems


def check_receiver_monitoring(template: Template) -> list[str]:
    """Alarms on the receiver's errors and on STOPs it could not publish (per provider);
    the dashboard shows its outcomes per provider, its errors and throttles."""
    function_id, _ = the_receiver(template)
    env = receiver_environment(template)
    namespace, service = env.get("POWERTOOLS_METRICS_NAMESPACE"), env.get("POWERTOOLS_SERVICE_NAME")
    watched = [
        watch
        for alarm in inv.of_type(template, "AWS::CloudWatch::Alarm").values()
        for watch in inv._alarm_watches(inv.props(alarm))
    ]
    problems = []
    if not any(
        w[:2] == ("AWS/Lambda", "Errors") and w[2].get("FunctionName") == {"Ref": function_id}
        for w in watched
    ):
        problems.append(f"no alarm on {function_id} Errors")
    for provider in inv.provider_names():
        for metric in NOT_PUBLISHED_METRICS:
            if (namespace, metric, {"provider": provider, "service": service}) not in watched:
                problems.append(f"no alarm on {metric} for provider {provider}")
    lines = inv.dashboard_metrics(template)
    shown = {(metric, tuple(sorted(dims.items()))) for _, metric, dims, _ in lines}
    for provider in inv.provider_names():
        for metric in DASHBOARD_METRICS:
            if (metric, tuple(sorted({"provider": provider, "service": str(service)}.items()))) not in shown:
                problems.append(f"the dashboard does not show {metric} for {provider}")
    for metric in ("Errors", "Throttles"):
        if (metric, (("FunctionName", function_id),)) not in shown:
            problems.append(f"the dashboard does not show {function_id} {metric}")
    return problems


RECEIVER_CHECKS = (
    check_receiver_wiring,
    check_receiver_grants,
    check_receiver_endpoint,
    check_webhook_secret,
    check_receiver_monitoring,
)
