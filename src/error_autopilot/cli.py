"""Command line: subcommands, and AutopilotError → exit code + readable message."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from error_autopilot import __version__
from error_autopilot.config.service_map import json_schema, load_service_map
from error_autopilot.domain.errors import AutopilotError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="error-autopilot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"error-autopilot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate service-map.json")
    check.add_argument("--config", type=Path, default=Path("service-map.json"))
    sub.add_parser("schema", help="print the JSON Schema of service-map.json")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `error-autopilot` command."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "schema":
            print(json.dumps(json_schema(), indent=2, sort_keys=True))
            return 0
        load_service_map(args.config)
        print(f"{args.config}: ok")
        return 0
    except AutopilotError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
