"""Hostile text never reaches the Actions runner as a workflow command (issues 12, 14).

Log lines, exception messages, label values and the fields of a repository_dispatch payload (which
the Telegram bridge fills from chat messages) carry every command a stranger could try to smuggle
into the step's output; the action runs as the runner runs it, with debug logging on, and no line of
either stream may be read as a command except the ones actions_io writes itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.action_runner import ROOT, ActionResult, run_action
from tests.support.world import World, checked_out

pytestmark = pytest.mark.slow

TOKEN = "ghs_hostiletest"
# Our only commands in a dry run that succeeds: the token's mask, on both streams (actions_io.mask).
OURS = {f"::add-mask::{TOKEN}"}
ATTACKS = (
    "\n::error title=pwned::x",
    "\r::stop-commands::abc",
    "\n::set-output name=issues::[]",
    "\u2028::warning::x",
    "\n  ::add-mask::hidden",
    "\r\n\t::notice file=a.py,line=1::forged",
    " ##[set-output name=prs;]99",
    "\x0b::group::x\x0c::endgroup::\x85::debug::x\u2029::echo::on",
)
HOSTILE = "".join(ATTACKS)
# What the runner strips before looking for `::` (.NET TrimStart), and its older `##[` syntax anywhere.
_LEADING_SPACE = re.compile("^[\\s\u180e\u200b\ufeff]*")



def _push_hostile_errors(world: World) -> None:
    """A new billing error whose message, exception and labels all carry the attacks."""
    newest = max(int(v[0]) for s in world.telemetry.loki_push["streams"] for v in s["values"])
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/app/billing/api.py", line 12, in handle_create_invoice\n'
        "    total = invoice_total(payload)\n"
        f"ValueError: bad currency{HOSTILE}"
    )
    line = json.dumps({"levelname": "ERROR", "name": "billing.api", "message": f"invoice failed{HOSTILE}",
                       "exc_info": traceback})  # fmt: skip
    labels = {"service_name": "billing-service", "deployment_environment": "staging", "pod": f"api-1{HOSTILE}"}
    push = {"streams": [{"stream": labels, "values": [[str(newest + n * 1_000_000), line] for n in range(1, 4)]}]}
    httpx.post(f"{world.loki.url}/loki/api/v1/push", json=push).raise_for_status()


def _commands(result: ActionResult) -> list[str]:
    """Every physical line of both streams that the runner would read as a workflow command."""
    found = []
    for _, text in result.steps[-1].arrived:
        for line in re.split("\r\n|\r|\n", text):  # the harness splits on \n only; the runner also on \r
            if _LEADING_SPACE.sub("", line).startswith("::") or "##[" in line:
                found.append(line)
    return found


def test_hostile_log_text_never_becomes_a_workflow_command(world: World, tmp_path: Path) -> None:
    _push_hostile_errors(world)
    work = checked_out(world, tmp_path)
    # RUNNER_DEBUG=1 is "re-run with debug logging": incident titles are logged. The step summary
    # path is a folder, so the summary (hostile titles and all) is printed to stdout instead.
    unwritable = tmp_path / "summary-is-a-folder"
    unwritable.mkdir()
    # A payload field the action does not know is logged by name: the name is the stranger's.
    event = {"action": "error-alert", "client_payload": {"environment": "staging", f"note{HOSTILE}": "1"}}
    result = run_action(work, tmp_path, inputs={"dry-run": "true", "github-token": TOKEN},
                        event_name="repository_dispatch", event=event,
                        env={"RUNNER_DEBUG": "1", "GITHUB_STEP_SUMMARY": str(unwritable)})  # fmt: skip
    assert result.returncode == 0, result.stderr

    assert "pwned" in result.stderr and "add_mask::hidden" in result.stderr, "the hostile text did reach the log"
    assert "could not write the job summary" in result.stderr and "## error-autopilot" in result.stdout
    assert _commands(result) == [f"::add-mask::{TOKEN}"] * 2, "only our masks, once per stream"
    assert set(_commands(result)) == OURS
    logged = next(line for line in result.stderr.splitlines() if "ignoring fields" in line)
    # (the action reads `-` in a payload field name as `_`)
    assert "note\\n::error title=pwned::x\\r::stop_commands::abc" in logged, "one line, escaped, still readable"

    report = json.loads((work / result.outputs["report-path"]).read_text())
    assert set(result.outputs) == set(yaml.safe_load((ROOT / "action.yml").read_text())["outputs"])
    assert [w["environment"] for w in report["windows"]] == ["staging"], "the payload's known field still counts"
    assert any("ValueError" in i["title"] for i in report["incidents"]), "the hostile error was polled"
    assert result.outputs["incidents"] == str(len(report["incidents"]))
    assert result.outputs["issues"] == str(len(report["incidents"])), "a forged set-output changed nothing"
    assert result.outputs["prs"] == "0"
