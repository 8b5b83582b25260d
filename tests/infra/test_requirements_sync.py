"""functions/optout_relay/requirements.txt is generated from pyproject.toml and never drifts."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from optout_relay_dev import requirements as gen

PYPROJECT = """\
[project]
name = "x"
version = "0"
dependencies = [
    "boto3>=1.34",
    "phonenumbers>=8.13",
]

[project.optional-dependencies]
dev = ["pytest>=8"]
"""


def _package_name(requirement: str) -> str:
    name = requirement
    for separator in "[<>=!~; ":
        name = name.split(separator, 1)[0]
    return name.strip().lower()


def test_committed_requirements_match_pyproject() -> None:
    assert gen.check() is None


def test_check_command_passes_on_the_committed_file() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "optout_relay_dev.requirements", "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_requirements_hold_only_runtime_dependencies() -> None:
    with gen.PYPROJECT.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    runtime = {_package_name(d) for d in project["dependencies"]}
    listed = {
        _package_name(line)
        for line in gen.REQUIREMENTS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert listed == runtime
    for extra, packages in project.get("optional-dependencies", {}).items():
        for package in packages:
            name = _package_name(package)
            if name not in runtime:
                assert name not in listed, f"{name} (extra {extra!r}) must not reach the Lambda package"
    for dev_only in ("moto", "pytest", "typer", "rich", "aws-sam-cli", "cfn-lint"):
        assert dev_only not in listed


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(PYPROJECT, encoding="utf-8")
    return pyproject, tmp_path / "requirements.txt"


def test_generate_then_check(project: tuple[Path, Path]) -> None:
    pyproject, output = project
    assert gen.main(["--pyproject", str(pyproject), "--output", str(output)]) == 0
    lines = [line for line in output.read_text().splitlines() if not line.startswith("#")]
    assert lines == ["boto3>=1.34", "phonenumbers>=8.13"]
    assert gen.main(["--check", "--pyproject", str(pyproject), "--output", str(output)]) == 0


def test_check_fails_when_pyproject_gains_a_dependency(
    project: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject, output = project
    gen.main(["--pyproject", str(pyproject), "--output", str(output)])
    pyproject.write_text(PYPROJECT.replace('"boto3>=1.34",', '"boto3>=1.34",\n    "urllib3>=2",'))
    capsys.readouterr()

    assert gen.main(["--check", "--pyproject", str(pyproject), "--output", str(output)]) == 1

    message = capsys.readouterr().err
    assert "drifted" in message
    assert "make requirements" in message
    assert "+urllib3>=2" in message


def test_check_fails_when_the_file_is_edited_by_hand(
    project: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject, output = project
    gen.main(["--pyproject", str(pyproject), "--output", str(output)])
    output.write_text(output.read_text() + "moto>=5\n")

    assert gen.main(["--check", "--pyproject", str(pyproject), "--output", str(output)]) == 1
    assert "-moto>=5" in capsys.readouterr().err


def test_check_fails_when_the_file_is_missing(
    project: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject, output = project
    assert gen.main(["--check", "--pyproject", str(pyproject), "--output", str(output)]) == 1
    assert "missing" in capsys.readouterr().err


def test_committed_receiver_requirements_match_pyproject() -> None:
    assert gen.check_receiver() is None


def test_the_receiver_ships_only_what_it_needs() -> None:
    listed = {
        _package_name(line)
        for line in gen.RECEIVER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert listed == {"aws-lambda-powertools", "boto3"}
    runtime = {_package_name(d) for d in gen.runtime_dependencies()}
    assert listed <= runtime, "each is a project dependency too: the dev environment has it"


def test_a_receiver_dependency_outside_the_project_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        PYPROJECT + '\n[tool.optout-relay]\nwebhook-receiver-dependencies = ["requests>=2"]\n',
        encoding="utf-8",
    )
    arguments = ["--pyproject", str(pyproject), "--output", str(tmp_path / "r.txt")]

    assert gen.main([*arguments, "--receiver-output", str(tmp_path / "w.txt")]) == 1
    assert "requests>=2: not in [project].dependencies" in capsys.readouterr().err


def test_the_receiver_file_is_generated_and_checked(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        PYPROJECT + '\n[tool.optout-relay]\nwebhook-receiver-dependencies = ["boto3>=1.34"]\n',
        encoding="utf-8",
    )
    receiver = tmp_path / "w.txt"
    arguments = [
        "--pyproject",
        str(pyproject),
        "--output",
        str(tmp_path / "r.txt"),
        "--receiver-output",
        str(receiver),
    ]

    assert gen.main(arguments) == 0
    assert [line for line in receiver.read_text().splitlines() if not line.startswith("#")] == ["boto3>=1.34"]
    assert gen.main(["--check", *arguments]) == 0
    receiver.write_text(receiver.read_text() + "phonenumbers\n")
    assert gen.main(["--check", *arguments]) == 1
