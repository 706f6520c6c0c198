"""The hidden markers of an issue body (pure): its fingerprint, and the sections an update refreshes.

An issue is found again by its fingerprint marker, whatever its title says. Sections between
`<!-- error-autopilot:NAME:start -->` and `…:end -->` hold what changes with every run (counts, last
seen, versions, timeline); a rendering without evidence replaces only those in a body that has it.
"""

from __future__ import annotations

import re

MARKER = "<!-- error-autopilot:fingerprint={fp} -->"
MARKER_RE = re.compile(r"<!-- error-autopilot:fingerprint=([0-9a-f]{16}) -->")
NO_EVIDENCE = "<!-- error-autopilot:evidence=none -->"  # rendered without a finding: must not replace one
BODY_LIMIT = 60_000  # GitHub refuses more than 65,536 characters; keep a margin
TITLE_LIMIT = 256
_SECTION_RE = re.compile(r"<!-- error-autopilot:([a-z]+):start -->[\s\S]*?<!-- error-autopilot:\1:end -->")


def section(name: str, text: str) -> str:
    """`text` between the markers of the live section `name`."""
    return f"<!-- error-autopilot:{name}:start -->{text}<!-- error-autopilot:{name}:end -->"


def parse_marker(body: str | None) -> str | None:
    """The fingerprint in an issue body's hidden marker (the last one: we always write it last)."""
    found = MARKER_RE.findall(body or "")
    return found[-1] if found else None


def merge_body(old: str | None, new: str) -> str:
    """The body to write over `old`: `new`, except that a rendering without evidence (no finding this
    run) only replaces the live sections of a body that has evidence, so it never erases it."""
    if not old or NO_EVIDENCE not in new or NO_EVIDENCE in old or parse_marker(old) != parse_marker(new):
        return new
    fresh = {m.group(1): m.group(0) for m in _SECTION_RE.finditer(new)}
    if not fresh:
        return new
    return _SECTION_RE.sub(lambda m: fresh.get(m.group(1), m.group(0)), old)
