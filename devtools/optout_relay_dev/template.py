"""Reads template.yaml, the single source of truth for the local stack's shape.

Short-form CloudFormation tags (``!Ref``, ``!GetAtt``, ``!Sub`` ...) load as their
long forms (``{"Ref": ...}``), as CloudFormation itself reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
# The two functions, told apart by their handler's package.
RELAY_PACKAGE = "optout_relay"
RECEIVER_PACKAGE = "webhook_receiver"

_TAGS = [
    "Ref",
    "Condition",
    "GetAtt",
    "Sub",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Select",
    "Join",
    "Split",
    "FindInMap",
    "ImportValue",
    "GetAZs",
    "Base64",
    "Cidr",
    "Transform",
    "Length",
    "ToJsonString",
]


class _CfnLoader(yaml.SafeLoader):
    pass


def _construct(tag: str) -> Any:
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def construct(loader: _CfnLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


for _tag in _TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


@dataclass(frozen=True)
class StackShape:
    """What the local emulation needs from the template, by logical id."""

    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.template["Resources"])

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r.get("Type") == resource_type}

    def parameter_default(self, name: str) -> Any:
        return self.template.get("Parameters", {}).get(name, {}).get("Default")

    def resolve(self, value: Any) -> Any:
        """Resolves a parameter ``Ref`` to its default; other values are returned as they are."""
        if (
            isinstance(value, dict)
            and set(value) == {"Ref"}
            and value["Ref"] in self.template.get("Parameters", {})
        ):
            return self.parameter_default(value["Ref"])
        return value

    def function_of_package(self, package: str) -> tuple[str, dict[str, Any]]:
        """The one function whose handler lives in ``package``."""
        found = [
            (name, function)
            for name, function in self.of_type("AWS::Serverless::Function").items()
            if str(function.get("Properties", {}).get("Handler", "")).split(".", 1)[0] == package
        ]
        if len(found) != 1:
            raise ValueError(f"expected exactly one function with a {package} handler in template.yaml")
        return found[0]

    @property
    def function(self) -> tuple[str, dict[str, Any]]:
        """The relay: the one function that consumes a queue (the deadline watch runs on a schedule)."""
        relays = {
            name: function
            for name, function in self.of_type("AWS::Serverless::Function").items()
            if any(
                event.get("Type") == "SQS"
                for event in function.get("Properties", {}).get("Events", {}).values()
            )
        }
        if len(relays) != 1:
            raise ValueError(
                "expected exactly one AWS::Serverless::Function with an SQS event in template.yaml"
            )
        return next(iter(relays.items()))

    @property
    def receiver_function(self) -> tuple[str, dict[str, Any]]:
        """The webhook receiver (not deployed by the template yet: issue 12)."""
        return self.function_of_package(RECEIVER_PACKAGE)

    @property
    def source_queue(self) -> tuple[str, dict[str, Any]]:
        for name, queue in self.of_type("AWS::SQS::Queue").items():
            if "RedrivePolicy" in queue.get("Properties", {}):
                return name, queue
        raise ValueError("no queue with a RedrivePolicy in template.yaml")

    @property
    def dead_letter_queue(self) -> tuple[str, dict[str, Any]]:
        target = self.source_queue[1]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
        name = target["Fn::GetAtt"][0]
        return name, self.resources[name]

    @property
    def table(self) -> tuple[str, dict[str, Any]]:
        """The ledger: the table ``RESULTS_TABLE_NAME`` names."""
        return self.table_of("RESULTS_TABLE_NAME")

    def table_of(self, variable: str) -> tuple[str, dict[str, Any]]:
        """The table an environment variable of the function names."""
        value = self.environment.get(variable)
        tables = self.of_type("AWS::DynamoDB::Table")
        name = value.get("Ref") if isinstance(value, dict) else None
        if name not in tables:
            raise ValueError(f"{variable} names no AWS::DynamoDB::Table in template.yaml")
        return name, tables[name]

    @property
    def max_receive_count(self) -> int:
        policy = self.source_queue[1]["Properties"]["RedrivePolicy"]
        return int(self.resolve(policy["maxReceiveCount"]))

    @property
    def environment(self) -> dict[str, Any]:
        """The relay's environment."""
        return self.environment_of(self.function[1])

    @property
    def receiver_environment(self) -> dict[str, Any]:
        return self.environment_of(self.receiver_function[1])

    def environment_of(self, function: dict[str, Any]) -> dict[str, Any]:
        globals_env = (
            self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        )
        own = function.get("Properties", {}).get("Environment", {}).get("Variables", {})
        return {**globals_env, **own}


def stack_shape(path: Path = TEMPLATE_PATH) -> StackShape:
    return StackShape(load_template(path))
