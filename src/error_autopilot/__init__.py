"""error-autopilot: production errors in Loki/Tempo become investigated GitHub issues."""

__version__ = "0.1.0"

# What an interrupted run prints (Ctrl-C, a cancelled job), wherever it was interrupted: saves are
# atomic and pending incidents are published first, so nothing is half-saved.
INTERRUPTED = "interrupted: nothing half-saved; the next run resumes from the last saved state"
