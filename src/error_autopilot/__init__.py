"""error-autopilot: production errors in Loki/Tempo become investigated GitHub issues."""

__version__ = "0.1.0"
