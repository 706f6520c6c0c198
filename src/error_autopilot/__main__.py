"""`python -m error_autopilot` is the same as the `error-autopilot` command."""

import sys

from error_autopilot import INTERRUPTED

try:
    from error_autopilot.cli import main
except KeyboardInterrupt:  # Ctrl-C while the (light) CLI module loads: the same one line as later
    sys.stderr.write(INTERRUPTED + "\n")
    sys.exit(130)

sys.exit(main())
