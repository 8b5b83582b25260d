"""Generates each Lambda function's requirements.txt from pyproject.toml.

``[project].dependencies`` in pyproject.toml is the single source of truth for the relay
function's runtime dependencies (``functions/optout_relay/requirements.txt``);
``[tool.optout-relay].webhook-receiver-dependencies`` for the webhook receiver's
(``functions/webhook_receiver/requirements.txt``), each of which must also be a project
dependency, so the development environment has it. ``sam build`` installs these files;
dev and CLI extras never go there.

    python -m optout_relay_dev.requirements           # write the files
    python -m optout_relay_dev.requirements --check   # exit 1 if one drifted
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = REPO_ROOT / "pyproject.toml"
REQUIREMENTS = REPO_ROOT / "functions" / "optout_relay" / "requirements.txt"
RECEIVER_REQUIREMENTS = REPO_ROOT / "functions" / "webhook_receiver" / "requirements.txt"
RECEIVER_KEY = "webhook-receiver-dependencies"
REGENERATE = "make requirements"

HEADER = (
    "# Generated from [project].dependencies in pyproject.toml by\n"
    "# `python -m optout_relay_dev.requirements` ({regenerate}). Do not edit:\n"
    "# change pyproject.toml and regenerate. `sam build` installs these into the\n"
    "# Lambda package, so only runtime dependencies belong here.\n"
)
RECEIVER_HEADER = (
    "# Generated from [tool.optout-relay].webhook-receiver-dependencies in pyproject.toml\n"
    "# by `python -m optout_relay_dev.requirements` ({regenerate}). Do not edit:\n"
    "# change pyproject.toml and regenerate. `sam build` installs these into the\n"
    "# webhook receiver's Lambda package.\n"
)


def _document(pyproject: Path) -> dict[str, object]:
    with pyproject.open("rb") as handle:
        return tomllib.load(handle)


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise ValueError(f"{where} is not a list of strings")
    return [" ".join(item.split()) for item in value]


def runtime_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """The ``[project].dependencies`` of ``pyproject``, as written there."""
    project = _document(pyproject).get("project")
    dependencies = project.get("dependencies") if isinstance(project, dict) else None
    return _strings(dependencies, f"{pyproject} [project].dependencies")


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].strip().lower()


def receiver_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """The webhook receiver's dependencies; each must be a project dependency too."""
    tool = _document(pyproject).get("tool")
    section = tool.get("optout-relay") if isinstance(tool, dict) else None
    listed = section.get(RECEIVER_KEY) if isinstance(section, dict) else None
    if listed is None:
        return []
    dependencies = _strings(listed, f"{pyproject} [tool.optout-relay].{RECEIVER_KEY}")
    project = {_name(d) for d in runtime_dependencies(pyproject)}
    missing = [d for d in dependencies if _name(d) not in project]
    if missing:
        raise ValueError(f"{', '.join(missing)}: not in [project].dependencies of {pyproject}")
    return dependencies


def render(pyproject: Path = PYPROJECT) -> str:
    """The exact content the relay's requirements.txt must have."""
    lines = runtime_dependencies(pyproject)
    return HEADER.format(regenerate=REGENERATE) + "".join(f"{line}\n" for line in lines)


def render_receiver(pyproject: Path = PYPROJECT) -> str:
    """The exact content the webhook receiver's requirements.txt must have."""
    lines = receiver_dependencies(pyproject)
    return RECEIVER_HEADER.format(regenerate=REGENERATE) + "".join(f"{line}\n" for line in lines)


def _drift(expected: str, requirements: Path, pyproject: Path, section: str) -> str | None:
    try:
        actual = requirements.read_text(encoding="utf-8")
    except FileNotFoundError:
        return f"{requirements} is missing; generate it with `{REGENERATE}`."
    if actual == expected:
        return None
    diff = "".join(
        difflib.unified_diff(
            actual.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{requirements} (current)",
            tofile=f"{requirements} (from {pyproject.name})",
        )
    )
    return (
        f"{requirements} has drifted from {section} in {pyproject}.\n"
        f"Regenerate it with `{REGENERATE}` and commit the result.\n{diff}"
    )


def check(pyproject: Path = PYPROJECT, requirements: Path = REQUIREMENTS) -> str | None:
    """``None`` when ``requirements`` matches ``pyproject``, else a message with a diff."""
    return _drift(render(pyproject), requirements, pyproject, "[project].dependencies")


def check_receiver(pyproject: Path = PYPROJECT, requirements: Path = RECEIVER_REQUIREMENTS) -> str | None:
    section = f"[tool.optout-relay].{RECEIVER_KEY}"
    return _drift(render_receiver(pyproject), requirements, pyproject, section)


def _write(path: Path, content: str, pyproject: Path) -> None:
    if path.exists() and path.read_text(encoding="utf-8") == content:
        print(f"{path} is already up to date.")
        return
    path.write_text(content, encoding="utf-8")
    print(f"Wrote {path} from {pyproject.name}.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m optout_relay_dev.requirements",
        description="Write the Lambda functions' requirements.txt files from pyproject.toml.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if a file differs from what would be written",
    )
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=REQUIREMENTS, help=argparse.SUPPRESS)
    parser.add_argument("--receiver-output", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # A custom --pyproject (tests) checks only the files it is given.
    receiver_output = args.receiver_output
    if receiver_output is None and args.pyproject == PYPROJECT:
        receiver_output = RECEIVER_REQUIREMENTS

    try:
        if args.check:
            problems = [check(args.pyproject, args.output)]
            if receiver_output is not None:
                problems.append(check_receiver(args.pyproject, receiver_output))
            found = [problem for problem in problems if problem]
            for problem in found:
                print(problem, file=sys.stderr)
            if found:
                return 1
            print(f"{args.output} is up to date with {args.pyproject.name}.")
            if receiver_output is not None:
                print(f"{receiver_output} is up to date with {args.pyproject.name}.")
            return 0
        _write(args.output, render(args.pyproject), args.pyproject)
        if receiver_output is not None:
            _write(receiver_output, render_receiver(args.pyproject), args.pyproject)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
