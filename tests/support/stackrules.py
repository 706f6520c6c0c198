"""What the corpus rule tests of each round share: a trace that must parse, and the first candidate its ranking
names among a case's files."""

from __future__ import annotations

from collections.abc import Sequence

from error_autopilot.domain.stack import StackTrace
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.stackmap import Candidate, rank


def parsed(trace: str, packages: Sequence[str] = (), source_roots: Sequence[str] = ()) -> StackTrace:
    """The trace parsed as the service's own code is configured; a trace that does not parse fails the test."""
    stack = parse_stacktrace(trace, packages=packages, source_roots=source_roots)
    assert stack is not None, "no stack trace"
    return stack


def first_of(
    trace: str, files: Sequence[str], packages: Sequence[str] = (), source_roots: Sequence[str] = ()
) -> Candidate:
    """The location the ranking names first among `files`."""
    stack = parsed(trace, packages, source_roots)
    return rank(stack, files, packages=packages, source_roots=source_roots).candidates[0]
