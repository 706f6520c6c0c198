"""`python -m error_autopilot` is the same as the `error-autopilot` command."""

import sys

from error_autopilot.cli import main

sys.exit(main())
