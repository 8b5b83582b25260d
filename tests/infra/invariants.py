"""The template's invariants, as functions of a loaded template.

Each ``check_*`` takes the template as a dict (short-form tags already in long form:
``{"Ref": ...}``, ``{"Fn::GetAtt": [...]}``) and returns the problems it found, an
empty list when the invariant holds. ``test_template.py`` runs them on template.yaml;
``test_template_breakage.py`` runs them on broken copies to show that they catch it.

What the code needs is derived from the code, not copied: environment variable names
from the settings reader, AWS calls from the data layer, metric names from the relay,
key schema from the ledger.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

RELAY_PACKAGE_NAME = "optout_relay"
RECEIVER_PACKAGE_NAME = "webhook_receiver"
REPO_ROOT = Path(__file__).resolve().parents[2]
RECEIVER_PACKAGE = REPO_ROOT / "functions" / "webhook_receiver" / "webhook_receiver"
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
FUNCTION_PACKAGE = REPO_ROOT / "functions" / "optout_relay" / "optout_relay"

Template = dict[str, Any]

MIN_MAX_RECEIVE_COUNT = 5
VISIBILITY_TIMEOUT_FACTOR = 6
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
DEFAULT_RUNTIME = "python3.12"
OLDEST_MESSAGE_AGE_DEFAULT = 24 * 3600
REQUIRED_OUTPUTS = (
    "QueueUrl",
    "QueueArn",
    "DeadLetterQueueUrl",
    "DeadLetterQueueArn",
    "ResultsTableName",
    "TargetsTableName",
    "TracklySecretArn",
    "TatangoSecretArn",
    "FunctionName",
    "DashboardUrl",
    "AlarmTopicArn",
    "WebhookUrl",
    "TracklyWebhookUrl",
    "TatangoWebhookUrlPrefix",
    "WebhookSecretArn",
)
# AWS managed policies the function role may carry. AWSXRayDaemonWriteAccess is what
# SAM itself attaches for `Tracing: Active`: X-Ray's write actions have no resource-level
# permissions, so a "*" resource is unavoidable there, and it is not ours.
ALLOWED_MANAGED_POLICIES = frozenset({"AWSXRayDaemonWriteAccess"})
IDENTITY_POLICY_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


# ------------------------------------------------------------------ loading


def load_template(path: Path = TEMPLATE_PATH) -> Template:
    """template.yaml through the loader the local tooling uses (short tags to long form)."""
    from optout_relay_dev.template import load_template as load

    return load(path)


# ------------------------------------------------------------------ template helpers


def resources(template: Template) -> dict[str, dict[str, Any]]:
    return dict(template.get("Resources") or {})


def of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in resources(template).items()
        if resource.get("Type") == resource_type
    }


def props(resource: dict[str, Any]) -> dict[str, Any]:
    return dict(resource.get("Properties") or {})


def ref(value: Any) -> str | None:
    """The logical id or parameter a ``{"Ref": X}`` names, else ``None``."""
    if isinstance(value, dict) and set(value) == {"Ref"} and isinstance(value["Ref"], str):
        return value["Ref"]
    return None


def getatt(value: Any) -> tuple[str, str] | None:
    """``(logical_id, attribute)`` of a ``{"Fn::GetAtt": ...}``, else ``None``."""
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        if isinstance(target, str):
            target = target.split(".", 1)
        if isinstance(target, list) and len(target) == 2:
            return str(target[0]), str(target[1])
    return None


def parameter(template: Template, name: str) -> dict[str, Any] | None:
    found = (template.get("Parameters") or {}).get(name)
    return dict(found) if isinstance(found, dict) else None


def number_bounds(template: Template, value: Any, default: float) -> tuple[float, float]:
    """(lowest, highest) value a numeric property can take at deploy time.

    A literal is both; a parameter reference spans its MinValue/MaxValue (or its
    AllowedValues), falling back to its Default where a bound is missing.
    """
    if value is None:
        return default, default
    name = ref(value)
    if name is None:
        number = float(value)
        return number, number
    spec = parameter(template, name)
    if spec is None:
        raise ValueError(f"Ref to unknown parameter {name!r}")
    if spec.get("AllowedValues"):
        allowed = [float(v) for v in spec["AllowedValues"]]
        return min(allowed), max(allowed)
    fallback = float(spec.get("Default", default))
    return float(spec.get("MinValue", fallback)), float(spec.get("MaxValue", fallback))


def functions(template: Template) -> dict[str, dict[str, Any]]:
    """Every function of the template (its properties), by logical id."""
    return {logical_id: props(r) for logical_id, r in of_type(template, "AWS::Serverless::Function").items()}


def _sqs_events_of(function: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: dict(event.get("Properties") or {})
        for name, event in (function.get("Events") or {}).items()
        if event.get("Type") == "SQS"
    }


def function_of_package(template: Template, package: str) -> tuple[str, dict[str, Any]]:
    """The one function whose handler lives in ``package`` (``optout_relay.handler....``)."""
    found = [
        (logical_id, function)
        for logical_id, function in functions(template).items()
        if str(function.get("Handler") or "").split(".", 1)[0] == package
    ]
    if len(found) != 1:
        raise ValueError(f"expected exactly one function with a {package} handler, found {len(found)}")
    return found[0]


def the_function(template: Template) -> tuple[str, dict[str, Any]]:
    """The relay: the one function that consumes a queue."""
    relays = {name: function for name, function in functions(template).items() if _sqs_events_of(function)}
    if len(relays) != 1:
        raise ValueError(f"expected exactly one function with an SQS event, found {len(relays)}")
    return next(iter(relays.items()))


def _function(template: Template, function_id: str | None) -> dict[str, Any]:
    if function_id is None:
        return the_function(template)[1]
    return functions(template).get(function_id, {})


def function_property(template: Template, name: str, function_id: str | None = None) -> Any:
    """A property of the function (the relay by default), falling back to Globals.Function."""
    function = _function(template, function_id)
    if name in function:
        return function[name]
    return ((template.get("Globals") or {}).get("Function") or {}).get(name)


def environment(template: Template, function_id: str | None = None) -> dict[str, Any]:
    function = _function(template, function_id)
    globals_env = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get(
        "Variables"
    ) or {}
    own = (function.get("Environment") or {}).get("Variables") or {}
    return {**globals_env, **own}


def sqs_events(template: Template) -> dict[str, dict[str, Any]]:
    return _sqs_events_of(the_function(template)[1])


def source_queues(template: Template) -> dict[str, dict[str, Any]]:
    """The queues the function consumes, by logical id."""
    queues = of_type(template, "AWS::SQS::Queue")
    found = {}
    for event in sqs_events(template).values():
        target = getatt(event.get("Queue"))
        if target and target[1] == "Arn" and target[0] in queues:
            found[target[0]] = props(queues[target[0]])
    return found


def dead_letter_queue_id(template: Template) -> str | None:
    """The queue the function's source queue redrives to."""
    for queue in source_queues(template).values():
        target = getatt((queue.get("RedrivePolicy") or {}).get("deadLetterTargetArn"))
        if target:
            return target[0]
    return None


def function_role_id(template: Template, function_id: str | None = None) -> str | None:
    target = getatt(function_property(template, "Role", function_id))
    return target[0] if target and target[1] == "Arn" else None


def table_of(
    template: Template, variable: str, function_id: str | None = None
) -> tuple[str, dict[str, Any]] | None:
    """The table an environment variable (``RESULTS_TABLE_NAME``, ...) names, by logical id."""
    target = ref(environment(template, function_id).get(variable))
    tables = of_type(template, "AWS::DynamoDB::Table")
    return (target, tables[target]) if target in tables else None


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def identity_statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every identity (IAM) policy in the template, with its owner."""
    for logical_id, resource in resources(template).items():
        kind = resource.get("Type")
        properties = props(resource)
        documents: list[Any] = []
        if kind == "AWS::IAM::Role":
            documents = [p.get("PolicyDocument") for p in as_list(properties.get("Policies"))]
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [properties.get("PolicyDocument")]
        elif kind == "AWS::Serverless::Function":
            documents = [p for p in as_list(properties.get("Policies")) if isinstance(p, dict)]
        for document in documents:
            if isinstance(document, dict):
                for statement in as_list(document.get("Statement")):
                    if isinstance(statement, dict):
                        yield logical_id, statement


def grants(template: Template, role_id: str) -> dict[str, list[Any]]:
    """action -> resources the role's inline policies allow it on."""
    allowed: dict[str, list[Any]] = {}
    for owner, statement in identity_statements(template):
        if owner != role_id or statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement.get("Action")):
            allowed.setdefault(str(action), []).extend(as_list(statement.get("Resource")))
    return allowed


# ------------------------------------------------------------------ what the code needs

_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")


def _python_files(package: Path) -> list[Path]:
    return sorted(package.rglob("*.py"))


def _module_file(name: str, package: Path) -> Path | None:
    """``optout_relay.aws.ledger`` -> ``<package>/aws/ledger.py`` (or a package's __init__.py)."""
    parts = name.split(".")
    if parts[0] != package.name:
        return None
    base = package.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def modules_imported_from(entry: Path, package: Path = FUNCTION_PACKAGE) -> list[Path]:
    """``entry`` and every module of ``package`` it imports, directly or not (any import
    statement, also one inside a function): what a function built on ``entry`` runs."""
    seen: set[Path] = set()
    pending = [entry]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in _imported_names(tree):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b too
                found = _module_file(".".join(parts[:depth]), package)
                if found is not None and found not in seen:
                    pending.append(found)
    return sorted(seen)


def handler_path(template: Template, function_id: str | None = None, root: Path = REPO_ROOT) -> Path:
    """The file of the module a function's Handler names, under its CodeUri."""
    code_uri = str(function_property(template, "CodeUri", function_id) or "")
    module = str(function_property(template, "Handler", function_id) or "").rpartition(".")[0]
    return root / code_uri / (module.replace(".", "/") + ".py")


def function_modules(template: Template, function_id: str | None = None) -> list[Path]:
    """The function code a function runs: its handler module and all it imports."""
    return modules_imported_from(handler_path(template, function_id))


def relay_modules() -> list[Path]:
    return function_modules(load_template())


def provider_names() -> list[str]:
    from optout_relay.providers.registry import PROVIDERS

    return sorted(PROVIDERS)


def env_vars_read_by_code(
    package: Path = FUNCTION_PACKAGE, modules: Iterable[Path] | None = None
) -> set[str]:
    """Names of the environment variables the function code reads.

    Found by reading the code: an UPPER_SNAKE_CASE string as the first argument of any
    call (the settings readers ``required("X")``, ``number("X", ...)``, ``rate(...)``,
    ``os.environ.get("X")``, ``getenv("X")``) or as an ``os.environ["X"]`` key; an
    f-string such as ``f"{name.upper()}_BASE_URL"`` is expanded for every registered
    provider. A name found here that is no environment variable fails loudly (the
    template does not set it), never silently. ``modules``: only these (default: every module).
    """
    providers = provider_names()
    names: set[str] = set()

    def literal_names(node: ast.expr) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value} if _ENV_NAME.match(node.value) else set()
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            if (
                len(parts) == 2
                and isinstance(parts[0], ast.FormattedValue)
                and isinstance(parts[1], ast.Constant)
                and isinstance(parts[1].value, str)
            ):
                suffix = parts[1].value
                expanded = {f"{provider.upper()}{suffix}" for provider in providers}
                return {name for name in expanded if _ENV_NAME.match(name)}
        return set()

    for path in _python_files(package) if modules is None else modules:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                names |= literal_names(node.args[0])
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "environ"
            ):
                names |= literal_names(node.slice)
    return names


# Set by the Lambda runtime itself; the template must not (and for most cannot) set them.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
LAMBDA_RUNTIME_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


def env_vars_the_template_must_set(
    package: Path = FUNCTION_PACKAGE, modules: Iterable[Path] | None = None
) -> set[str]:
    """What a function's code (default: the relay's) reads, minus what the Lambda runtime provides."""
    return {
        name
        for name in env_vars_read_by_code(
            package,
            modules if modules is not None else relay_modules() if package == FUNCTION_PACKAGE else None,
        )
        if name not in LAMBDA_RUNTIME_VARIABLES and not name.startswith("AWS_LAMBDA_")
    }


_CLIENT_CALL = re.compile(r"\.(dynamodb|sqs|secretsmanager)\.([a-z_]+)\(")


def aws_calls_by_module(
    package: Path = FUNCTION_PACKAGE, modules: Iterable[Path] | None = None
) -> dict[str, set[str]]:
    """IAM actions of the AWS API calls each module (default: every module) makes
    (``self.sqs.send_message(``)."""
    calls: dict[str, set[str]] = {}
    for path in _python_files(package) if modules is None else modules:
        text = path.read_text(encoding="utf-8")
        actions = {
            f"{service}:{''.join(part.title() for part in method.split('_'))}"
            for service, method in _CLIENT_CALL.findall(text)
        }
        if re.search(r"parameters\.(get_secret|SecretsProvider)\(", text):
            actions.add("secretsmanager:GetSecretValue")
        if actions:
            calls[path.relative_to(package).as_posix()] = actions
    return calls


def aws_actions_called_by_code(package: Path = FUNCTION_PACKAGE) -> set[str]:
    return {action for actions in aws_calls_by_module(package).values() for action in actions}


def watch_metric_names() -> set[str]:
    """The metrics the deadline watch publishes (dimension ``service`` only)."""
    from optout_relay.domain.deadline_watch import WATCH_METRICS

    return set(WATCH_METRICS)


def metric_names_emitted_by_code(package: Path = FUNCTION_PACKAGE) -> set[str]:
    """Per-provider EMF metric names: the relay's status metrics and every ``count(..., "X")``."""
    from optout_relay.domain.settle import METRIC_FOR_STATUS

    names = set(METRIC_FOR_STATUS.values())
    for path in _python_files(package):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "count"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                names.add(node.args[1].value)
    return names


# ------------------------------------------------------------------ checks: queue and function


def check_visibility_timeout(template: Template) -> list[str]:
    """Visibility timeout >= 6 x function timeout + batching window, for every allowed value."""
    problems = []
    events = sqs_events(template)
    if not events:
        return ["the function has no SQS event"]
    _, timeout_high = number_bounds(template, function_property(template, "Timeout"), 3)
    queues = of_type(template, "AWS::SQS::Queue")
    for name, event in events.items():
        target = getatt(event.get("Queue"))
        if not target or target[0] not in queues:
            problems.append(f"SQS event {name} does not use a queue of this template")
            continue
        queue = props(queues[target[0]])
        visibility_low, _ = number_bounds(template, queue.get("VisibilityTimeout"), 30)
        _, window_high = number_bounds(template, event.get("MaximumBatchingWindowInSeconds"), 0)
        needed = VISIBILITY_TIMEOUT_FACTOR * timeout_high + window_high
        if visibility_low < needed:
            problems.append(
                f"{target[0]} VisibilityTimeout can be {visibility_low:g} s, below "
                f"{VISIBILITY_TIMEOUT_FACTOR} x function timeout ({timeout_high:g} s) + "
                f"batching window ({window_high:g} s) = {needed:g} s"
            )
    return problems


def check_max_receive_count(template: Template) -> list[str]:
    """Every source queue redrives to a DLQ after at least 5 receives, whatever is deployed."""
    problems = []
    queues = source_queues(template)
    if not queues:
        return ["the function consumes no queue of this template"]
    for logical_id, queue in queues.items():
        redrive = queue.get("RedrivePolicy")
        if not isinstance(redrive, dict) or "maxReceiveCount" not in redrive:
            problems.append(f"{logical_id} has no RedrivePolicy with maxReceiveCount")
            continue
        value = redrive["maxReceiveCount"]
        name = ref(value)
        if name is not None:
            spec = parameter(template, name) or {}
            default, minimum = spec.get("Default"), spec.get("MinValue")
            if default is None or float(default) < MIN_MAX_RECEIVE_COUNT:
                problems.append(f"parameter {name} Default {default} is below {MIN_MAX_RECEIVE_COUNT}")
            if minimum is None or float(minimum) < MIN_MAX_RECEIVE_COUNT:
                problems.append(
                    f"parameter {name} MinValue {minimum} lets a deploy go below {MIN_MAX_RECEIVE_COUNT}"
                )
        elif float(value) < MIN_MAX_RECEIVE_COUNT:
            problems.append(f"{logical_id} maxReceiveCount {value} is below {MIN_MAX_RECEIVE_COUNT}")
    return problems


def check_dead_letter_queue(template: Template) -> list[str]:
    """The redrive target is a queue of this template that keeps messages 14 days."""
    dlq_id = dead_letter_queue_id(template)
    queues = of_type(template, "AWS::SQS::Queue")
    if dlq_id is None or dlq_id not in queues:
        return ["the source queue's RedrivePolicy does not target a queue of this template"]
    retention = props(queues[dlq_id]).get("MessageRetentionPeriod")
    low, _ = number_bounds(template, retention, 345_600)
    if low != DLQ_RETENTION_SECONDS:
        return [f"{dlq_id} MessageRetentionPeriod is {low:g} s, not 14 days"]
    return []


def check_report_batch_item_failures(template: Template) -> list[str]:
    events = sqs_events(template)
    if not events:
        return ["the function has no SQS event"]
    return [
        f"SQS event {name} lacks FunctionResponseTypes: [ReportBatchItemFailures]"
        for name, event in events.items()
        if "ReportBatchItemFailures" not in as_list(event.get("FunctionResponseTypes"))
    ]


def check_event_source_mapping_parameters(template: Template) -> list[str]:
    """Batch size, batching window and maximum concurrency are deploy-time parameters."""
    problems = []
    for name, event in sqs_events(template).items():
        values = {
            "BatchSize": event.get("BatchSize"),
            "MaximumBatchingWindowInSeconds": event.get("MaximumBatchingWindowInSeconds"),
            "ScalingConfig.MaximumConcurrency": (event.get("ScalingConfig") or {}).get("MaximumConcurrency"),
        }
        for setting, value in values.items():
            target = ref(value)
            if target is None or parameter(template, target) is None:
                problems.append(f"SQS event {name} {setting} is not a parameter reference")
    return problems


def check_runtime(template: Template) -> list[str]:
    """Every function's Runtime is a parameter defaulting to python3.12 that allows only 3.12
    and later: an older runtime is (or soon will be) deprecated by Lambda. A local build on
    3.11 passes the value to ``sam build`` only, which does not check AllowedValues."""
    problems = []
    for function_id in functions(template):
        problems += _runtime_problems(template, function_id)
    return sorted(set(problems))


def _runtime_problems(template: Template, function_id: str) -> list[str]:
    runtime = function_property(template, "Runtime", function_id)
    name = ref(runtime)
    spec = parameter(template, name) if name else None
    if spec is None:
        return [f"{function_id} Runtime {runtime!r} is not a parameter reference"]
    problems = []
    if spec.get("Default") != DEFAULT_RUNTIME:
        problems.append(f"parameter {name} Default is {spec.get('Default')!r}, not {DEFAULT_RUNTIME}")
    allowed = [str(v) for v in as_list(spec.get("AllowedValues"))]
    if DEFAULT_RUNTIME not in allowed:
        problems.append(f"parameter {name} AllowedValues lacks {DEFAULT_RUNTIME}")
    for value in allowed:
        match = re.fullmatch(r"python3\.(\d+)", value)
        if not match or int(match.group(1)) < 12:
            problems.append(f"parameter {name} allows {value}; deployments need python3.12 or later")
    return problems


def check_function_settings(template: Template) -> list[str]:
    """Every function: arm64, JSON logs to a log group of its own with retention. The relay
    is traced with X-Ray (the watch makes one call per day read: nothing to trace)."""
    problems = []
    if function_property(template, "Tracing") != "Active":
        problems.append("Tracing is not Active")
    log_groups = of_type(template, "AWS::Logs::LogGroup")
    owners: dict[str, str] = {}
    for function_id in functions(template):
        if as_list(function_property(template, "Architectures", function_id)) != ["arm64"]:
            problems.append(f"{function_id} Architectures is not [arm64]")
        logging = function_property(template, "LoggingConfig", function_id) or {}
        if logging.get("LogFormat") != "JSON":
            problems.append(f"{function_id} LoggingConfig.LogFormat is not JSON")
        group = ref(logging.get("LogGroup"))
        if group not in log_groups:
            problems.append(f"{function_id} LoggingConfig.LogGroup is not a log group of this template")
            continue
        if group in owners:
            problems.append(f"{function_id} shares its log group {group} with {owners[group]}")
        owners[group] = function_id
        retention = ref(props(log_groups[group]).get("RetentionInDays"))
        if retention is None or parameter(template, retention) is None:
            problems.append(f"{group} RetentionInDays is not a parameter")
    return problems


def check_function_code(template: Template, root: Path = REPO_ROOT) -> list[str]:
    """Every function's CodeUri holds the handler the template names and a requirements.txt."""
    problems = []
    for function_id in functions(template):
        problems += _function_code_problems(template, function_id, root)
    return problems


def _function_code_problems(template: Template, function_id: str, root: Path) -> list[str]:
    code_uri = function_property(template, "CodeUri", function_id)
    handler = str(function_property(template, "Handler", function_id) or "")
    if not isinstance(code_uri, str) or not (root / code_uri).is_dir():
        return [f"CodeUri {code_uri!r} is not a directory"]
    problems = []
    if not (root / code_uri / "requirements.txt").is_file():
        problems.append(f"{code_uri} has no requirements.txt")
    module, _, function_name = handler.rpartition(".")
    module_path = root / code_uri / (module.replace(".", "/") + ".py")
    if not module_path.is_file():
        return [*problems, f"Handler {handler!r}: {module_path} does not exist"]
    tree = ast.parse(module_path.read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    if function_name not in defined:
        problems.append(f"Handler {handler!r}: {module_path.name} defines no {function_name}()")
    return problems


# ------------------------------------------------------------------ checks: environment


def check_environment_defined(
    template: Template, names: Iterable[str], function_id: str | None = None
) -> list[str]:
    defined = environment(template, function_id)
    owner = "the function" if function_id is None else function_id
    return [
        f"{name} is read by the code but not set on {owner}" for name in sorted(names) if name not in defined
    ]


def _provider_url_and_rate_wiring(
    template: Template, env: dict[str, Any], name: str, adapter: Any
) -> list[str]:
    problems = []
    variable = f"{name.upper()}_BASE_URL"
    base = ref(env.get(variable))
    spec = parameter(template, base) if base else None
    if spec is None:
        problems.append(f"{variable} is not a parameter reference")
    elif spec.get("Default") != adapter.default_base_url:
        problems.append(f"{variable} defaults to {spec.get('Default')!r}, not {adapter.default_base_url!r}")
    if hasattr(adapter, "default_max_rps"):
        problems += _rate_wiring(template, env, f"{name.upper()}_MAX_RPS", adapter.default_max_rps)
    return problems


def check_environment_wiring(template: Template) -> list[str]:
    """Each variable that names a resource is wired to that resource of this template."""
    from optout_relay.providers.registry import PROVIDERS

    env = environment(template)
    everything = resources(template)
    problems: list[str] = []

    def refers(variable: str, resource_type: str) -> str | None:
        target = ref(env.get(variable))
        if target is None or everything.get(target, {}).get("Type") != resource_type:
            problems.append(f"{variable} is not a Ref to an {resource_type} of this template")
            return None
        return target

    ledger = refers("RESULTS_TABLE_NAME", "AWS::DynamoDB::Table")
    targets = refers("TARGETS_TABLE_NAME", "AWS::DynamoDB::Table")
    if ledger is not None and ledger == targets:
        problems.append("RESULTS_TABLE_NAME and TARGETS_TABLE_NAME name the same table")
    dlq = refers("DEAD_LETTER_QUEUE_URL", "AWS::SQS::Queue")
    if dlq is not None and dlq != dead_letter_queue_id(template):
        problems.append(f"DEAD_LETTER_QUEUE_URL names {dlq}, not the source queue's redrive target")

    for name, adapter in PROVIDERS.items():
        secret = refers(f"{name.upper()}_SECRET_ID", "AWS::SecretsManager::Secret")
        if secret is not None and not secret.lower().startswith(name):
            problems.append(f"{name.upper()}_SECRET_ID names {secret}, not the {name} secret")
        problems += _provider_url_and_rate_wiring(template, env, name, adapter)

    redrive = [
        (queue.get("RedrivePolicy") or {}).get("maxReceiveCount")
        for queue in source_queues(template).values()
    ]
    if not redrive or env.get("MAX_RECEIVE_COUNT") != redrive[0] or ref(redrive[0]) is None:
        problems.append("MAX_RECEIVE_COUNT is not the same parameter as the redrive maxReceiveCount")

    retention = ref(env.get("LEDGER_RETENTION_DAYS"))
    spec = parameter(template, retention) if retention else None
    if spec is None or str(spec.get("Default")) != "0":
        problems.append("LEDGER_RETENTION_DAYS is not a parameter defaulting to 0 (keep forever)")

    for variable, value in env.items():
        target = ref(value)
        if (
            target is not None
            and not target.startswith("AWS::")
            and target not in everything
            and parameter(template, target) is None
        ):
            problems.append(f"{variable} refers to {target}, which is not in the template")
    return problems


def _rate_wiring(template: Template, env: dict[str, Any], variable: str, default: float | None) -> list[str]:
    """A provider's rate ceiling is a parameter whose default is the adapter's own."""
    name = ref(env.get(variable))
    spec = parameter(template, name) if name else None
    if spec is None:
        return [f"{variable} is not a parameter reference"]
    value = str(spec.get("Default", "")).strip().lower()
    if default is None:
        return [] if value == "unlimited" else [f"{variable} defaults to {value!r}, not 'unlimited'"]
    try:
        matches = abs(float(Fraction(value)) - default) < 1e-9
    except (ValueError, ZeroDivisionError):
        matches = False
    return [] if matches else [f"{variable} defaults to {value!r}, not the adapter's {default:g}"]


def resolved_environment(
    template: Template, function_id: str | None = None, bound: str = "Default"
) -> dict[str, str]:
    """A function's environment as deployed with every parameter at its default (or at
    its ``MinValue`` / ``MaxValue`` where it has one)."""
    resolved = {}
    for variable, value in environment(template, function_id).items():
        name = ref(value)
        spec = parameter(template, name) if name else None
        if spec is not None:
            resolved[variable] = str(spec.get(bound, spec.get("Default", "")))
        elif name is not None:
            resolved[variable] = f"{name}-placeholder"
        else:
            resolved[variable] = str(value)
    return resolved


def check_defaults_pass_settings(template: Template) -> list[str]:
    """The code's start-up validation accepts the environment the template deploys."""
    from optout_relay.errors import ConfigurationError
    from optout_relay.settings import Settings

    try:
        Settings.from_env(resolved_environment(template))
    except ConfigurationError as error:
        return [str(error)]
    return []


def check_provider_timeout(template: Template) -> list[str]:
    """A provider call's timeout fits well inside one invocation."""
    env = environment(template)
    timeout_low, _ = number_bounds(template, function_property(template, "Timeout"), 3)
    try:
        provider_timeout = float(env.get("PROVIDER_TIMEOUT_SECONDS", "10"))
    except (TypeError, ValueError):
        return ["PROVIDER_TIMEOUT_SECONDS is not a literal number"]
    if provider_timeout * 2 > timeout_low:
        return [
            f"PROVIDER_TIMEOUT_SECONDS {provider_timeout:g} leaves no room for a retry in a "
            f"{timeout_low:g} s invocation"
        ]
    return []


# ------------------------------------------------------------------ checks: IAM


def _is_wildcard_action(action: Any) -> bool:
    return isinstance(action, str) and (action == "*" or action.endswith(":*"))


def _is_wildcard_resource(resource: Any) -> bool:
    if not isinstance(resource, str):
        return False
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and parts[5] == "*"


def check_no_iam_wildcards(template: Template) -> list[str]:
    """No identity-policy statement with a "*" action or resource, nor an unvetted managed policy.

    Resource policies are not identity policies: a KMS key policy's Resource "*" means
    "this key", and a Deny on "sqs:*" (the TLS-only queue policy) grants nothing.
    """
    problems = []
    for owner, statement in identity_statements(template):
        sid = statement.get("Sid", "?")
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{owner} statement {sid} uses NotAction/NotResource")
        for action in as_list(statement.get("Action")):
            if _is_wildcard_action(action):
                problems.append(f"{owner} statement {sid} allows action {action!r}")
        for resource in as_list(statement.get("Resource")):
            if _is_wildcard_resource(resource):
                problems.append(f"{owner} statement {sid} applies to resource {resource!r}")
    for logical_id, resource in resources(template).items():
        properties = props(resource)
        arns = as_list(properties.get("ManagedPolicyArns"))
        if resource.get("Type") == "AWS::Serverless::Function":
            arns += [p for p in as_list(properties.get("Policies")) if isinstance(p, str)]
        for arn in arns:
            text = arn.get("Fn::Sub", "") if isinstance(arn, dict) else str(arn)
            if str(text).rsplit("/", 1)[-1] not in ALLOWED_MANAGED_POLICIES:
                problems.append(f"{logical_id} attaches managed policy {text!r}, which is not vetted")
    for function_id in functions(template):
        if function_role_id(template, function_id) is None:
            problems.append(
                f"{function_id} has no Role of this template: SAM would generate one with "
                "AWSLambdaBasicExecutionRole (logs on every log group) and, for an SQS event, "
                "AWSLambdaSQSQueueExecutionRole (SQS actions on every queue)"
            )
    return problems


# Which resource an SQS call of each data-layer module targets.
SQS_MODULE_TARGETS = {"aws/dead_letters.py": "dead-letter queue", "aws/source_queue.py": "source queue"}
# Which table (by the variable that names it) a DynamoDB call of each module targets.
DYNAMODB_MODULE_TABLES = {"aws/targets_store.py": "TARGETS_TABLE_NAME"}
DEFAULT_DYNAMODB_TABLE = "RESULTS_TABLE_NAME"
# Modules that read an index of their table, not the table: the index they name.
DYNAMODB_MODULE_INDEXES = {"aws/opt_out_index.py": "optout_relay.aws.opt_out_index"}
# The targets document's accounts name their own secrets; the function may read those
# under the stack's prefix only (README, "Targets document").
ACCOUNT_SECRETS = {
    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
    "${AWS::StackName}/accounts/*"
}
# What the event source mapping does with the function's role.
EVENT_SOURCE_MAPPING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")


def _dynamodb_resource(template: Template, module: str, function_id: str | None) -> Any:
    """What a module's DynamoDB calls target: its table's ARN, or its index's."""
    variable = DYNAMODB_MODULE_TABLES.get(module, DEFAULT_DYNAMODB_TABLE)
    table = table_of(template, variable, function_id)
    if table is None:
        return None
    if module in DYNAMODB_MODULE_INDEXES:
        index_name = importlib.import_module(DYNAMODB_MODULE_INDEXES[module]).INDEX_NAME
        return {"Fn::Sub": f"${{{table[0]}.Arn}}/index/{index_name}"}
    return {"Fn::GetAtt": [table[0], "Arn"]}


def expected_grants(
    template: Template, function_id: str | None = None
) -> tuple[set[tuple[str, str]], list[str]]:
    """(action, resource) pairs a function (the relay by default) needs, from its code's AWS calls."""
    problems = []
    is_relay = function_id in (None, the_function(template)[0])
    queues = [json.dumps({"Fn::GetAtt": [q, "Arn"]}) for q in source_queues(template)] if is_relay else []
    dlq = json.dumps({"Fn::GetAtt": [dead_letter_queue_id(template), "Arn"]})
    # The providers' secrets (the webhook receiver's own secret is the receiver's alone).
    secrets = [
        json.dumps({"Ref": s})
        for s in of_type(template, "AWS::SecretsManager::Secret")
        if any(s.lower().startswith(name) for name in provider_names())
    ]
    secrets.append(json.dumps(ACCOUNT_SECRETS))
    logging = function_property(template, "LoggingConfig", function_id) or {}
    log_group = json.dumps({"Fn::GetAtt": [ref(logging.get("LogGroup")), "Arn"]})
    targets = {"dead-letter queue": [dlq], "source queue": queues}

    expected = {(action, queue) for action in EVENT_SOURCE_MAPPING_ACTIONS for queue in queues}
    expected |= {(action, log_group) for action in LOG_ACTIONS}
    calls = aws_calls_by_module(modules=function_modules(template, function_id))
    for module, actions in calls.items():
        for action in actions:
            service = action.split(":")[0]
            if service == "dynamodb":
                resource = _dynamodb_resource(template, module, function_id)
                if resource is None:
                    problems.append(f"{module} calls {action} on a table its function does not name")
                    continue
                expected.add((action, json.dumps(resource)))
            elif service == "secretsmanager" and action == "secretsmanager:GetSecretValue":
                expected |= {(action, secret) for secret in secrets}
            elif service == "sqs" and module in SQS_MODULE_TARGETS:
                expected |= {(action, queue) for queue in targets[SQS_MODULE_TARGETS[module]]}
            else:
                problems.append(f"{module} calls {action}: say in SQS_MODULE_TARGETS (or here) on what")
    return expected, problems


def check_function_grants(template: Template) -> list[str]:
    """Each function's role allows exactly what its code (and the relay's event source
    mapping) needs, where needed."""
    problems = []
    for function_id, function in functions(template).items():
        # The webhook receiver, a package of its own, has its own check (receiver_invariants).
        if str(function.get("Handler") or "").split(".", 1)[0] == RELAY_PACKAGE_NAME:
            problems += _grant_problems(template, function_id)
    return problems


def _grant_problems(template: Template, function_id: str) -> list[str]:
    role = function_role_id(template, function_id)
    if role is None:
        return [f"{function_id} has no Role of this template"]
    granted = {
        (action, json.dumps(resource, sort_keys=True))
        for action, resources in grants(template, role).items()
        for resource in resources
    }
    expected, problems = expected_grants(template, function_id)
    expected = {(action, json.dumps(json.loads(resource), sort_keys=True)) for action, resource in expected}
    for action, resource in sorted(expected - granted):
        problems.append(f"role {role} does not allow {action} on {resource}")
    for action, resource in sorted(granted - expected):
        problems.append(f"role {role} allows {action} on {resource}, which nothing needs")
    return problems


# ------------------------------------------------------------------ checks: encryption and access


def check_encryption(template: Template) -> list[str]:
    """Server-side encryption on every queue, table, secret and topic (and at least one each)."""
    problems = []
    expectations: dict[str, Callable[[dict[str, Any]], bool]] = {
        "AWS::SQS::Queue": lambda p: p.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in p,
        "AWS::DynamoDB::Table": lambda p: (p.get("SSESpecification") or {}).get("SSEEnabled") is True,
        "AWS::SecretsManager::Secret": lambda p: bool(p.get("KmsKeyId")),
        "AWS::SNS::Topic": lambda p: bool(p.get("KmsMasterKeyId")),
    }
    for resource_type, encrypted in expectations.items():
        found = of_type(template, resource_type)
        if not found:
            problems.append(f"no {resource_type} in the template")
        for logical_id, resource in found.items():
            if not encrypted(props(resource)):
                problems.append(f"{logical_id} ({resource_type}) is not encrypted")
    return problems


def check_queues_deny_insecure_transport(template: Template) -> list[str]:
    denied: set[str] = set()
    for resource in of_type(template, "AWS::SQS::QueuePolicy").values():
        properties = props(resource)
        attached = {ref(q) for q in as_list(properties.get("Queues"))}
        for statement in as_list((properties.get("PolicyDocument") or {}).get("Statement")):
            condition = (statement.get("Condition") or {}).get("Bool") or {}
            if (
                statement.get("Effect") == "Deny"
                and statement.get("Principal") in ("*", {"AWS": "*"})
                and any(a in ("*", "sqs:*") for a in as_list(statement.get("Action")))
                and str(condition.get("aws:SecureTransport")).lower() == "false"
            ):
                for resource_arn in as_list(statement.get("Resource")):
                    target = getatt(resource_arn)
                    if target and target[0] in attached:
                        denied.add(target[0])
    return [
        f"{queue} has no queue policy denying non-TLS access"
        for queue in of_type(template, "AWS::SQS::Queue")
        if queue not in denied
    ]


def check_secret_placeholders(template: Template) -> list[str]:
    """Each provider secret holds every field its contract reads, with empty placeholder values."""
    from optout_relay.errors import TransientError
    from optout_relay.providers.registry import CONTRACTS

    problems = []
    secrets = of_type(template, "AWS::SecretsManager::Secret")
    for name, contract in CONTRACTS.items():
        matching = [s for s in secrets if s.lower().startswith(name)]
        if len(matching) != 1:
            problems.append(f"expected one secret for {name}, found {matching}")
            continue
        properties = props(secrets[matching[0]])
        if "GenerateSecretString" in properties:
            continue
        try:
            placeholder = json.loads(str(properties.get("SecretString")))
        except ValueError:
            problems.append(f"{matching[0]} SecretString is not JSON")
            continue
        if not isinstance(placeholder, dict):
            problems.append(f"{matching[0]} SecretString is not a JSON object")
            continue
        if any(value != "" for value in placeholder.values()):
            problems.append(f"{matching[0]} SecretString holds values; keep placeholders empty")
        filled = {key: "placeholder" for key in placeholder}
        try:
            contract.credentials_from(filled)
        except TransientError as error:
            problems.append(f"{matching[0]} placeholder lacks a field the contract reads: {error}")
    return problems


# ------------------------------------------------------------------ checks: ledger


def _kept_table(
    template: Template, variable: str, module: str, keys: tuple[tuple[str, str], tuple[str, str]]
) -> tuple[str, dict[str, Any], list[str]] | None:
    """The table ``variable`` names, with the problems every kept table can have: key schema
    and types as ``module`` uses them, PITR, deletion protection, on-demand, retained."""
    found = table_of(template, variable)
    if found is None:
        return None
    logical_id, resource = found
    table = props(resource)
    problems = []
    key_schema = [(k.get("AttributeName"), k.get("KeyType")) for k in as_list(table.get("KeySchema"))]
    if key_schema != [(keys[0][0], "HASH"), (keys[1][0], "RANGE")]:
        problems.append(f"{logical_id} KeySchema {key_schema} differs from {module}")
    types = {
        a.get("AttributeName"): a.get("AttributeType") for a in as_list(table.get("AttributeDefinitions"))
    }
    if (types.get(keys[0][0]), types.get(keys[1][0])) != (keys[0][1], keys[1][1]):
        problems.append(f"{logical_id} key attribute types {types} differ from {module}")
    pitr = table.get("PointInTimeRecoverySpecification") or {}
    if pitr.get("PointInTimeRecoveryEnabled") is not True:
        problems.append(f"{logical_id} has no point-in-time recovery")
    protection = ref(table.get("DeletionProtectionEnabled"))
    if protection is None or parameter(template, protection) is None:
        problems.append(f"{logical_id} DeletionProtectionEnabled is not a parameter")
    if table.get("BillingMode") != "PAY_PER_REQUEST":
        problems.append(f"{logical_id} is not PAY_PER_REQUEST")
    if resource.get("DeletionPolicy") != "Retain" or resource.get("UpdateReplacePolicy") != "Retain":
        problems.append(f"{logical_id} is not retained when the stack deletes or replaces it")
    return logical_id, table, problems


def check_table(template: Template) -> list[str]:
    """The ledger: key schema as aws/ledger.py writes it; TTL, PITR, deletion protection, on-demand."""
    from optout_relay.aws.ledger import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

    found = _kept_table(
        template, "RESULTS_TABLE_NAME", "aws/ledger.py", ((PARTITION_KEY, "S"), (SORT_KEY, "S"))
    )
    if found is None:
        return ["RESULTS_TABLE_NAME names no AWS::DynamoDB::Table of this template"]
    logical_id, table, problems = found
    ttl = table.get("TimeToLiveSpecification") or {}
    if ttl.get("AttributeName") != TTL_ATTRIBUTE or ttl.get("Enabled") is not True:
        problems.append(f"{logical_id} TTL is not enabled on {TTL_ATTRIBUTE}")
    return problems


def check_targets_table(template: Template) -> list[str]:
    """The targets document's table: key schema as aws/targets_store.py reads it (a numeric
    version), kept like the ledger, and no TTL (a version must never expire)."""
    from optout_relay.aws.targets_store import PARTITION_KEY, SORT_KEY

    module = "aws/targets_store.py"
    found = _kept_table(template, "TARGETS_TABLE_NAME", module, ((PARTITION_KEY, "S"), (SORT_KEY, "N")))
    if found is None:
        return ["TARGETS_TABLE_NAME names no AWS::DynamoDB::Table of this template"]
    logical_id, table, problems = found
    if (table.get("TimeToLiveSpecification") or {}).get("Enabled"):
        problems.append(f"{logical_id} has a TTL: a version in force could expire")
    return problems


# ------------------------------------------------------------------ checks: alarms, dashboard, outputs


def check_alarm_actions(template: Template) -> list[str]:
    topics = set(of_type(template, "AWS::SNS::Topic"))
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    if not alarms:
        return ["the template has no alarms"]
    problems = []
    for logical_id, resource in alarms.items():
        alarm = props(resource)
        if alarm.get("ActionsEnabled") is False:
            problems.append(f"{logical_id} has its actions disabled")
        for key in ("AlarmActions", "OKActions"):
            actions = as_list(alarm.get(key))
            if not actions:
                problems.append(f"{logical_id} has no {key}")
            for action in actions:
                if ref(action) not in topics:
                    problems.append(f"{logical_id} {key} {action} is not a topic of this template")
    return problems


def _alarm_watches(alarm: dict[str, Any]) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    """(namespace, metric name, dimensions) of a plain or metric-math alarm."""
    if alarm.get("MetricName"):
        dimensions = {d.get("Name"): d.get("Value") for d in as_list(alarm.get("Dimensions"))}
        yield alarm.get("Namespace"), str(alarm["MetricName"]), dimensions
    for query in as_list(alarm.get("Metrics")):
        metric = (query.get("MetricStat") or {}).get("Metric") or {}
        if metric:
            dimensions = {d.get("Name"): d.get("Value") for d in as_list(metric.get("Dimensions"))}
            yield metric.get("Namespace"), str(metric.get("MetricName")), dimensions


def check_alarms_cover(template: Template) -> list[str]:
    """The alarms the deadline needs exist and watch this stack's resources and metrics."""
    alarms = [props(a) for a in of_type(template, "AWS::CloudWatch::Alarm").values()]
    env = environment(template)
    function_id, _ = the_function(template)
    dlq = dead_letter_queue_id(template)
    queues = list(source_queues(template))
    watched = [(alarm, watch) for alarm in alarms for watch in _alarm_watches(alarm)]
    problems = []

    def find(namespace: str, metric: str, dimension: str, value: Any) -> list[dict[str, Any]]:
        return [
            alarm
            for alarm, (ns, name, dims) in watched
            if ns == namespace and name == metric and dims.get(dimension) == value
        ]

    if not find(
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", {"Fn::GetAtt": [dlq, "QueueName"]}
    ):
        problems.append("no alarm on messages in the dead-letter queue")
    for queue in queues:
        found = find(
            "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", {"Fn::GetAtt": [queue, "QueueName"]}
        )
        if not found:
            problems.append(f"no alarm on the age of the oldest message in {queue}")
        for alarm in found:
            threshold = ref(alarm.get("Threshold"))
            spec = parameter(template, threshold) if threshold else None
            if spec is None or float(spec.get("Default", 0)) != OLDEST_MESSAGE_AGE_DEFAULT:
                problems.append("the oldest-message alarm threshold is not a parameter defaulting to 24 h")
    for metric in ("Errors", "Throttles"):
        if not find("AWS/Lambda", metric, "FunctionName", {"Ref": function_id}):
            problems.append(f"no alarm on the function's {metric}")
    namespace = env.get("POWERTOOLS_METRICS_NAMESPACE")
    service = env.get("POWERTOOLS_SERVICE_NAME")
    from webhook_receiver.observability import METRIC_NAMES as receiver_metric_names

    emitted = metric_names_emitted_by_code() | watch_metric_names() | set(receiver_metric_names)
    for provider in provider_names():
        for outcome in ("Failed", "Rejected"):
            matches = [
                alarm
                for alarm, (ns, name, dims) in watched
                if ns == namespace
                and name == outcome
                and dims == {"provider": provider, "service": service}
                and alarm.get("Metrics")
            ]
            if not matches:
                problems.append(f"no failure-rate alarm on {outcome} for provider {provider}")
    for _alarm, (ns, name, _dims) in watched:
        if ns == namespace and name not in emitted:
            problems.append(f"an alarm watches {name}, which the code never emits")
    return problems


def _resolve_sub(template: Template, text: str) -> str:
    """A Fn::Sub string with parameters at their defaults and other names as themselves."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        spec = parameter(template, name)
        if spec is not None:
            return str(spec.get("Default", ""))
        return {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}.get(name, name)

    return re.sub(r"\$\{([^}!]+)\}", value, text)


def _dashboard_widgets(template: Template) -> Iterator[dict[str, Any]]:
    for resource in of_type(template, "AWS::CloudWatch::Dashboard").values():
        body = props(resource).get("DashboardBody")
        text = body.get("Fn::Sub") if isinstance(body, dict) else body
        if isinstance(text, list):
            text = text[0]
        yield from json.loads(_resolve_sub(template, str(text))).get("widgets", [])


def dashboard_alarms(template: Template) -> set[str]:
    """Logical ids of the alarms the dashboard's alarm widgets show (``${X.Arn}``)."""
    return {
        str(alarm).removesuffix(".Arn")
        for widget in _dashboard_widgets(template)
        if widget.get("type") == "alarm"
        for alarm in widget.get("properties", {}).get("alarms", [])
    }


def dashboard_metrics(template: Template) -> list[tuple[str, str, dict[str, str], str | None]]:
    """(namespace, metric, dimensions, stat) of every metric line of every dashboard widget."""
    found = []
    for widget in _dashboard_widgets(template):
        properties = widget.get("properties", {})
        for line in properties.get("metrics", []):
            options = line[-1] if line and isinstance(line[-1], dict) else {}
            fields = [part for part in line if not isinstance(part, dict)]
            if len(fields) < 2:
                continue
            dims = dict(zip(fields[2::2], fields[3::2], strict=False))
            stat = options.get("stat", properties.get("stat"))
            found.append((fields[0], fields[1], dims, stat))
    return found


def check_dashboard(template: Template) -> list[str]:
    """Outcomes per provider, latency p50/p99, queue depth and age, DLQ depth, errors, throttles."""
    if not of_type(template, "AWS::CloudWatch::Dashboard"):
        return ["the template has no dashboard"]
    try:
        lines = dashboard_metrics(template)
        alarms_shown = dashboard_alarms(template)
    except ValueError as error:
        return [f"the dashboard body is not valid JSON: {error}"]
    env = environment(template)
    configured = env.get("POWERTOOLS_METRICS_NAMESPACE")
    name = ref(configured)
    namespace = _resolve_sub(template, "${" + name + "}") if name else str(configured)
    service = env.get("POWERTOOLS_SERVICE_NAME")
    function_id, _ = the_function(template)
    dlq = dead_letter_queue_id(template)
    problems = []

    def shown(ns: str, metric: str, dims: dict[str, str], stat: str | None = None) -> bool:
        return any(
            n == ns and m == metric and d == dims and (stat is None or s == stat) for n, m, d, s in lines
        )

    for provider in provider_names():
        dims = {"provider": provider, "service": str(service)}
        for metric in sorted(metric_names_emitted_by_code()):
            if not shown(namespace, metric, dims):
                problems.append(f"the dashboard does not show {metric} for {provider}")
        for stat in ("p50", "p99"):
            if not shown(namespace, "ProviderLatency", dims, stat):
                problems.append(f"the dashboard does not show {provider} ProviderLatency {stat}")
    for queue in source_queues(template):
        for metric in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"):
            if not shown("AWS/SQS", metric, {"QueueName": f"{queue}.QueueName"}):
                problems.append(f"the dashboard does not show {queue} {metric}")
    if not shown("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": f"{dlq}.QueueName"}):
        problems.append("the dashboard does not show the dead-letter queue depth")
    for metric in ("Errors", "Throttles"):
        if not shown("AWS/Lambda", metric, {"FunctionName": function_id}):
            problems.append(f"the dashboard does not show the function's {metric}")
    for alarm in sorted(set(of_type(template, "AWS::CloudWatch::Alarm")) - alarms_shown):
        problems.append(f"the dashboard's alarm widget does not show {alarm}")
    return problems


def check_outputs(template: Template) -> list[str]:
    outputs = template.get("Outputs") or {}
    return [f"output {name} is missing" for name in REQUIRED_OUTPUTS if name not in outputs]


ALL_CHECKS = (
    check_visibility_timeout,
    check_max_receive_count,
    check_dead_letter_queue,
    check_report_batch_item_failures,
    check_event_source_mapping_parameters,
    check_runtime,
    check_function_settings,
    check_function_code,
    check_environment_wiring,
    check_defaults_pass_settings,
    check_provider_timeout,
    check_no_iam_wildcards,
    check_function_grants,
    check_encryption,
    check_queues_deny_insecure_transport,
    check_secret_placeholders,
    check_table,
    check_targets_table,
    check_alarm_actions,
    check_alarms_cover,
    check_dashboard,
    check_outputs,
)
