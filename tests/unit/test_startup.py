"""Every action run and CLI call starts a Python process: it must not pay for SDKs the run does not use."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT

_LIST_TOP_LEVEL_MODULES = (
    "import sys, error_autopilot.cli, error_autopilot.commands; print(sorted({m.split('.')[0] for m in sys.modules}))"
)


def test_the_cli_loads_the_claude_sdk_only_when_a_key_asks_for_it() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", _LIST_TOP_LEVEL_MODULES], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "'pydantic'" in loaded and "'error_autopilot'" in loaded, "did not see the process's modules"
    assert "'anthropic'" not in loaded
