"""Per-ecosystem stack-trace parsers behind `incidents.stacktrace.parse_stacktrace`."""
