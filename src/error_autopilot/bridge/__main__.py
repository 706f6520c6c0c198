"""`python -m error_autopilot.bridge --config bridge.json [--once]`: the bridge without the full CLI."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from error_autopilot.bridge.service import run_bridge
from error_autopilot.domain.errors import AutopilotError
from error_autopilot.logline import OneLineFormatter


def main() -> int:
    """Parse flags, configure logging, run the bridge; exit codes follow domain/errors.py."""
    parser = argparse.ArgumentParser(prog="python -m error_autopilot.bridge")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))  # chat text is a stranger's
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines would print the bot token
    try:
        return run_bridge(args.config, once=args.once, environ=os.environ)
    except AutopilotError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:  # stopped by hand: its offset is saved after every handled batch
        print("bridge stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
