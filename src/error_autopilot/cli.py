"""Command line: subcommands, and every failure → one line and its exit code.

    0 done   2 configuration   3 a dependency (Loki, Tempo, GitHub, git host, Anthropic, Telegram)
    4 state branch   5 local files (permissions, read-only, full disk)   8 Telegram bridge
    130 interrupted (Ctrl-C): the next run resumes from the last saved state

This module imports only the standard library and the exception hierarchy at load time: the rest
(pydantic, the SDKs: seconds on a busy runner) loads inside `main`, where a Ctrl-C is caught.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from error_autopilot import INTERRUPTED, __version__
from error_autopilot.domain.errors import AutopilotError, FilesystemError

if TYPE_CHECKING:
    from error_autopilot.config.settings import Settings

log = logging.getLogger(__name__)

_FILESYSTEM_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
                      errno.EISDIR, errno.EEXIST}  # fmt: skip


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
    state.add_argument("--state-repo", default=None, help="default: this checkout, else WORK_DIR/state.git")
    state.add_argument("--state-branch", default=defaults.state_branch)
    state.add_argument("--work-dir", type=Path, default=defaults.work_dir)
    state.add_argument("--yes", action="store_true", help="confirm reset or scrub")
    bridge = sub.add_parser("bridge", help="the Telegram bridge (long polling → repository_dispatch)")
    bridge.add_argument("kind", choices=("telegram",))
    bridge.add_argument("--config", type=Path, required=True, help="bridge.json")
    bridge.add_argument("--once", action="store_true", help="handle pending updates and exit (cron)")
    return parser


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from error_autopilot import commands  # noqa: PLC0415 - see the module docstring
    from error_autopilot.config.reference import config_reference, json_schema  # noqa: PLC0415

    handlers = {
        "run": commands.run, "plan": commands.plan, "investigate": commands.investigate,
        "publish": commands.publish, "check": commands.check, "demo": commands.demo,
        "state": commands.state, "bridge": commands.bridge, "action": commands.action,
    }  # fmt: skip
    if args.command == "schema":
        print(config_reference() if args.markdown else json.dumps(json_schema(), indent=2, sort_keys=True))
        return 0
    return handlers[args.command](args, settings)


def _fail(error: AutopilotError) -> int:
    """One line on stderr (problem — fix), an annotation in Actions, the error's exit code."""
    try:
        from error_autopilot import actions_io  # noqa: PLC0415 - see the module docstring

        actions_io.annotate_error(error)
    except ImportError:  # pragma: no cover - a broken install must still print the error
        pass
    if not error.hint:
        print(f"error: {error.message}", file=sys.stderr)
    elif "\n" in error.message:  # a list of problems (check): the fix goes under it
        print(f"error: {error.message}\nfix: {error.hint}", file=sys.stderr)
    else:
        print(f"error: {error.message} — {error.hint}", file=sys.stderr)
    return error.exit_code


def _filesystem_error(e: OSError) -> FilesystemError | None:
    """A local file problem (permissions, read-only mount, full disk) as a FilesystemError; None otherwise."""
    if e.filename is None or e.errno not in _FILESYSTEM_ERRNOS:
        return None
    return FilesystemError(
        f"cannot write {e.filename}: {e.strerror or e}",
        hint="choose a writable folder with --work-dir / --out (or AUTOPILOT_WORK_DIR), or free some space",
    )


def _interrupted() -> int:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C ends the process at once, quietly
    print(INTERRUPTED, file=sys.stderr)
    return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `error-autopilot` command."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return _interrupted()


def _main(argv: Sequence[str] | None) -> int:
    from error_autopilot import actions_io  # noqa: PLC0415 - see the module docstring

    # Everything this process prints may carry a stranger's text; the guard keeps any of it from
    # reaching the runner as a workflow command, whatever prints it (see actions_io).
    with actions_io.guarded_streams():
        try:
            return _run(argv)
        except AutopilotError as e:
            return _fail(e)
        except Exception as e:
            problem = _filesystem_error(e) if isinstance(e, OSError) else None
            if problem is not None:
                return _fail(problem)
            traceback.print_exc()  # inside the guard: an exception message is untrusted text too
            return 1


def _run(argv: Sequence[str] | None) -> int:
    from error_autopilot.config.settings import settings_from_env  # noqa: PLC0415 - see the module docstring

    settings = settings_from_env()
    args = build_parser(settings).parse_args(argv)
    _configure_logging(verbose=getattr(args, "verbose", False) or os.environ.get("RUNNER_DEBUG") == "1")
    return _dispatch(args, settings)


def _configure_logging(*, verbose: bool) -> None:
    """Log records to stderr, each one defused physical line. RUNNER_DEBUG=1 is how Actions asks for
    debug output (re-run with debug logging)."""
    from error_autopilot.logline import OneLineFormatter  # noqa: PLC0415 - see the module docstring

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns what matters
