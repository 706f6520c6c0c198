"""Secret redaction: the rules, and the one Redactor that applies them.

A log line is redacted once, when it is parsed (incidents/events.py), so nothing downstream — plan,
findings, state, prompts, issues, messages — ever holds the raw text; sinks and prompts apply the same
Redactor again to text that did not come from a log line (traces, git output, model answers).

Names of secrets are evidence and stay (`secretName=orders-db-credentials`, `token_type=Bearer`);
values go. Every pattern runs in linear time: tokens start only where a token can start (a lookbehind,
not `\\b`, which lets a long dotted word be rescanned from every dot), and repeats that can fail late
are bounded. Pure: no I/O, no SDKs.

One job per module: `pattern` (what a pattern is, where a token may start), `shapes` (token or word),
`catalogue` (the named patterns), `vendors` (issuers' prefixed tokens), `cards` (Luhn-checked card
numbers), `secret_names` (does a key name a secret, does its value look like one), `assignments`
(values named by a secret word), `redactor` (all of them, in order).
"""

from error_autopilot.redaction.cards import CARD_START, luhn_card
from error_autopilot.redaction.redactor import Redactor, redactor_for

__all__ = ["CARD_START", "Redactor", "luhn_card", "redactor_for"]
