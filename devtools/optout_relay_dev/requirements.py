"""Generates the Lambda function's requirements.txt from pyproject.toml.

``[project].dependencies`` in pyproject.toml is the single source of truth for the
function's runtime dependencies; ``sam build`` installs ``functions/optout_relay/
requirements.txt``, which this module writes. Dev and CLI extras never go there.

    python -m optout_relay_dev.requirements           # write the file
    python -m optout_relay_dev.requirements --check   # exit 1 if it drifted
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = REPO_ROOT / "pyproject.toml"
REQUIREMENTS = REPO_ROOT / "functions" / "optout_relay" / "requirements.txt"
REGENERATE = "make requirements"

HEADER = (
    "# Generated from [project].dependencies in pyproject.toml by\n"
    "# `python -m optout_relay_dev.requirements` ({regenerate}). Do not edit:\n"
    "# change pyproject.toml and regenerate. `sam build` installs these into the\n"
    "# Lambda package, so only runtime dependencies belong here.\n"
)


def runtime_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """The ``[project].dependencies`` of ``pyproject``, as written there."""
    with pyproject.open("rb") as handle:
        document = tomllib.load(handle)
    dependencies = document.get("project", {}).get("dependencies")
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise ValueError(f"{pyproject} has no [project].dependencies list of strings")
    return [" ".join(dependency.split()) for dependency in dependencies]


def render(pyproject: Path = PYPROJECT) -> str:
    """The exact content requirements.txt must have."""
    lines = runtime_dependencies(pyproject)
    return HEADER.format(regenerate=REGENERATE) + "".join(f"{line}\n" for line in lines)


def check(pyproject: Path = PYPROJECT, requirements: Path = REQUIREMENTS) -> str | None:
    """``None`` when ``requirements`` matches ``pyproject``, else a message with a diff."""
    expected = render(pyproject)
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
        f"{requirements} has drifted from [project].dependencies in {pyproject}.\n"
        f"Regenerate it with `{REGENERATE}` and commit the result.\n{diff}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m optout_relay_dev.requirements",
        description="Write the Lambda requirements.txt from pyproject.toml [project].dependencies.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the file differs from what would be written",
    )
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=REQUIREMENTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.check:
        problem = check(args.pyproject, args.output)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        print(f"{args.output} is up to date with {args.pyproject.name}.")
        return 0
    content = render(args.pyproject)
    if args.output.exists() and args.output.read_text(encoding="utf-8") == content:
        print(f"{args.output} is already up to date.")
        return 0
    args.output.write_text(content, encoding="utf-8")
    print(f"Wrote {args.output} from {args.pyproject.name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
