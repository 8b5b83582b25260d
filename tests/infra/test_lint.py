"""cfn-lint and `sam validate --lint` pass on template.yaml, offline and without credentials."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .invariants import REPO_ROOT, TEMPLATE_PATH

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed next to {sys.executable} (a dev dependency)"
    return str(path)


def _offline_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") or key == "AWS_CA_BUNDLE"
    }
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
            "SAM_CLI_TELEMETRY": "0",
            "SAM_CLI_CONTAINER_CONNECTION_TIMEOUT": "1",
        }
    )
    return env


def _run(command: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=_offline_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def test_cfn_lint_passes(tmp_path: Path) -> None:
    result = _run([_tool("cfn-lint"), str(TEMPLATE_PATH)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes(tmp_path: Path) -> None:
    result = _run([_tool("sam"), "validate", "--lint", "--template", str(TEMPLATE_PATH)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_sam_validate_lint_passes_for_every_samconfig_environment(tmp_path: Path) -> None:
    for environment in ("default", "dev", "prod"):
        result = _run(
            [_tool("sam"), "validate", "--config-env", environment, "--template", str(TEMPLATE_PATH)],
            tmp_path,
        )
        assert result.returncode == 0, f"{environment}: {result.stdout}{result.stderr}"


def test_cfn_lint_rejects_a_broken_template(tmp_path: Path) -> None:
    # Proves the lint step can fail: the queue policy names a queue that does not exist.
    # (cfn-lint does not see a dangling Ref inside a SAM function's environment;
    # check_environment_wiring in invariants.py does.)
    broken = tmp_path / "template.yaml"
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    attached = "        - !Ref DeadLetterQueue\n"
    assert attached in text
    broken.write_text(text.replace(attached, "        - !Ref DeadLetterQ\n"), encoding="utf-8")
    result = _run([_tool("cfn-lint"), str(broken)], tmp_path)
    assert result.returncode != 0, result.stdout
    assert "DeadLetterQ" in result.stdout
