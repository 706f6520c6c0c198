"""An incident's title: `ExceptionType: real message` of its newest occurrence (pure)."""

from __future__ import annotations

import re

from error_autopilot.domain.incidents import Incident
from error_autopilot.incidents.parameterize import PATTERNS
from error_autopilot.sinks.untrusted import Untrusted

TITLE_MAX = 120
_PLACEHOLDER = re.compile("|".join(sorted({re.escape(p.placeholder) for p in PATTERNS})))


def issue_title(incident: Incident, t: Untrusted) -> str:
    """The real message, redacted, ≤ 120 characters cut at a word boundary. Parts that took several
    values are `…` (the grouper replaced them); an incident from before headlines existed falls back
    to its grouping template with placeholders shown as `…` and without the service suffix."""
    headline = incident.headline
    if not headline:
        headline = incident.title.removesuffix(f" in {incident.service}")
        headline = _PLACEHOLDER.sub("…", headline)
    return t.plain(headline, TITLE_MAX)
