"""Command line: subcommands, and AutopilotError → exit code, a readable message and an annotation."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from error_autopilot import __version__, actions_io, commands
from error_autopilot.config.service_map import config_reference, json_schema
from error_autopilot.config.settings import Settings, settings_from_env
from error_autopilot.domain.errors import AutopilotError

log = logging.getLogger(__name__)


def _common(p: argparse.ArgumentParser, defaults: Settings) -> None:
    p.add_argument("--config", type=Path, default=defaults.config, help="service-map.json")
    p.add_argument("--work-dir", type=Path, default=defaults.work_dir, help="plan.json, findings/, report.json")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _poll_flags(p: argparse.ArgumentParser, defaults: Settings) -> None:
    p.add_argument("--env", action="append", dest="environments", metavar="ENV",
                   default=[defaults.environment] if defaults.environment else None,
                   help="environment to poll (repeatable; default: all)")  # fmt: skip
    p.add_argument("--since", default=defaults.since, help="look back this far this run (30m, 2h, 1d)")
    p.add_argument("--service", default=defaults.service, help="narrow to one service (name or alias)")
    p.add_argument("--trace-id", default=defaults.trace_id, help="also investigate this trace id")
    p.add_argument("--max-incidents", type=int, default=defaults.max_incidents)


def _sink_flags(p: argparse.ArgumentParser, defaults: Settings) -> None:
    p.add_argument("--state-repo", default=None, help="repo (path or URL) whose state branch holds state.json")
    p.add_argument("--state-branch", default=defaults.state_branch)
    p.add_argument("--sink", choices=("github", "local"), default=None, help="where issues go (default: github)")
    p.add_argument("--out", type=Path, default=None, help="drafts folder for --sink local")
    p.add_argument("--dry-run", action="store_true", default=defaults.dry_run,
                   help="local drafts only; never writes GitHub or the state branch")  # fmt: skip


def build_parser(defaults: Settings) -> argparse.ArgumentParser:
    """The whole command line; defaults come from the environment (the action's inputs)."""
    parser = argparse.ArgumentParser(
        prog="error-autopilot",
        description="Production errors in Loki/Tempo → investigated GitHub issues and safe draft PRs.",
    )
    parser.add_argument("--version", action="version", version=f"error-autopilot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="plan, investigate and publish in one process")
    for add in (_common, _poll_flags, _sink_flags):
        add(run, defaults)
    plan = sub.add_parser("plan", help="poll Loki and write plan.json (the incidents found)")
    for add in (_common, _poll_flags):
        add(plan, defaults)
    plan.add_argument("--state-repo", default=None)
    plan.add_argument("--state-branch", default=defaults.state_branch)
    plan.add_argument("--output", type=Path, default=None, help="default: WORK_DIR/plan.json")
    inv = sub.add_parser("investigate", help="write one finding JSON per incident of a plan")
    _common(inv, defaults)
    inv.add_argument("--plan", type=Path, default=None, help="default: WORK_DIR/plan.json")
    inv.add_argument("--output", type=Path, default=None, help="default: WORK_DIR/findings/")
    inv.add_argument("--incident", default=defaults.incident, help="only this fingerprint (matrix job)")
    pub = sub.add_parser("publish", help="decide, open/update issues and PRs, notify, save state")
    _common(pub, defaults)
    _sink_flags(pub, defaults)
    pub.add_argument("--plan", type=Path, default=None)
    pub.add_argument("--findings", type=Path, default=None)

    sub.add_parser("action", help="run the phase the action's inputs ask for (used by action.yml)")
    check = sub.add_parser("check", help="validate service-map.json (and --connect to Loki/Tempo)")
    _common(check, defaults)
    check.add_argument("--connect", action="store_true")
    schema = sub.add_parser("schema", help="print the JSON Schema of service-map.json")
    schema.add_argument("--markdown", action="store_true", help="the configuration reference instead")
    demo = sub.add_parser("demo", help="the whole pipeline on bundled data (no network, no keys)")
    demo.add_argument("--out", type=Path, default=Path("demo-out"))
    state = sub.add_parser("state", help="inspect or fix the state branch")
    state.add_argument("action", choices=("show", "repair", "reset", "scrub"))
    state.add_argument("--state-repo", default=".")
    state.add_argument("--state-branch", default=defaults.state_branch)
    state.add_argument("--work-dir", type=Path, default=defaults.work_dir)
    state.add_argument("--yes", action="store_true", help="confirm reset or scrub")
    bridge = sub.add_parser("bridge", help="the Telegram bridge (long polling → repository_dispatch)")
    bridge.add_argument("kind", choices=("telegram",))
    bridge.add_argument("--config", type=Path, required=True, help="bridge.json")
    bridge.add_argument("--once", action="store_true", help="handle pending updates and exit (cron)")
    return parser


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    handlers = {
        "run": commands.run, "plan": commands.plan, "investigate": commands.investigate,
        "publish": commands.publish, "check": commands.check, "demo": commands.demo,
        "state": commands.state, "bridge": commands.bridge, "action": commands.action,
    }  # fmt: skip
    if args.command == "schema":
        print(config_reference() if args.markdown else json.dumps(json_schema(), indent=2, sort_keys=True))
        return 0
    return handlers[args.command](args, settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `error-autopilot` command."""
    try:
        settings = settings_from_env()
        args = build_parser(settings).parse_args(argv)
        logging.basicConfig(
            level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
            format="%(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns what matters
        return _dispatch(args, settings)
    except AutopilotError as e:
        actions_io.annotate_error(e)
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted: the next run resumes from the last saved state", file=sys.stderr)
        return 130
