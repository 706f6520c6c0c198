"""The Redactor: every rule of the package applied in one fixed order, to text, to a stream's labels and
to decoded JSON."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, NamedTuple

from error_autopilot.redaction.assignments import (
    KEYWORDS,
    named_secret,
    redact_assignments,
    redact_cli_options,
    redact_name_value_pairs,
)
from error_autopilot.redaction.cards import redact_cards
from error_autopilot.redaction.catalogue import (
    AWS_PAIR,
    BUILTIN_PATTERNS,
    CLI_FLAG,
    EMAIL,
    GO_DSN,
    HEX_KEYS,
    URL_CODE,
    VAULT_LEGACY,
)
from error_autopilot.redaction.literals import Literals
from error_autopilot.redaction.pattern import TAG, Rule, SecretPattern, secret_pattern
from error_autopilot.redaction.secret_names import is_secret_value, key_class
from error_autopilot.redaction.vendors import VENDOR_HINTS, redact_vendor_tokens, substitute_vendor_tokens

_LABEL_CACHE = 4096
_CLEAN_CACHE = 4096
_CLEAN_CHARS = 256  # longer values (messages, stacks) rarely repeat
_PLAN_CACHE = 1024  # sets of hints found: a few dozen in practice


class Step(NamedTuple):
    """One rule of `Redactor.redact`: `rule` runs when `hints` is empty or one of them is in the text
    (case-insensitively when `fold`) or was in it before a step rewrote it; `apply` is the same step on its
    own, hint test included."""

    name: str
    rule: Rule
    apply: Rule
    hints: tuple[str, ...] = ()
    fold: bool = False

    @classmethod
    def of(cls, pattern: SecretPattern) -> Step:
        """A pattern's step: `redact` makes its hint test, so the rule is its bare substitution."""
        return cls(pattern.name, pattern.substitute, pattern.apply, pattern.hints, pattern.fold)

    @classmethod
    def always(cls, name: str, rule: Rule) -> Step:
        """A step tried on every text."""
        return cls(name, rule, rule)


class Redactor:
    """Replaces secrets with `[REDACTED:<kind>]`; built-in patterns plus user ones (service map `redaction`)."""

    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        custom = tuple(secret_pattern(f"custom-{i + 1}", p) for i, p in enumerate(extra_patterns))
        self._labels: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        # short field values found to hold no secret: levels, logger, thread and host names repeat on most JSON
        # lines, and each was some 30 us of rules (only clean ones are kept, so no secret stays in memory)
        self._clean: set[str] = set()
        self._kinds: dict[str, str | None] = {}
        # a pattern's hints stand beside it so that `redact` lowers a text once for all the patterns that look
        # for theirs case-insensitively, not once each (some 30 a text, on every line parsed in full)
        self._steps: tuple[Step, ...] = (
            *map(Step.of, (*BUILTIN_PATTERNS, *custom)),
            # the issuers' literals are its hints: the one pass for every step's rules out most texts for it too
            Step("vendor-token", substitute_vendor_tokens, redact_vendor_tokens, VENDOR_HINTS),
            *map(Step.of, (HEX_KEYS, VAULT_LEGACY, AWS_PAIR, GO_DSN, URL_CODE, CLI_FLAG)),
            Step.always("cli-flag", redact_cli_options),
            # its words are looked for in the text lowered as the step lowers it (a word has no letter that
            # lowers to two, and none ends in the `i` of `İ`, the one that does: see redact_assignments)
            Step("assignment", redact_assignments, redact_assignments, KEYWORDS, fold=True),
            Step.always("assignment", redact_name_value_pairs),
            Step.of(EMAIL),
            Step.always("card-number", redact_cards),
        )
        # every hint, as written and lowered: which of them a text holds decides which steps it needs
        self._hints = Literals(h for step in self._steps if not step.fold for h in step.hints)
        self._folded = Literals(h for step in self._steps if step.fold for h in step.hints)
        self._plans: dict[tuple[frozenset[str], frozenset[str]], tuple[tuple[int, Rule], ...]] = {}

    def redact(self, text: str) -> str:
        """Text with every recognised secret replaced."""
        # which hints the text holds, found in one pass, picks the steps to run from a table: testing each
        # step's hints in turn was some 17 us a text, and the issuers' gate 10 more. The steps after one that
        # replaced something are picked again by the hints of the text it left and of the texts before it: a
        # hint is context as much as a literal (the AWS pair's `key`), and a token replaced first
        # (`key-<hex>`, Mailgun's) must not take away the word that made the line speak of keys
        first = 0
        hints, folded = self._hints.found(text), self._folded.found(text.lower())
        while True:
            for index, rule in self._plan(hints, folded):
                if index >= first and (changed := rule(text)) is not text:
                    text, first = changed, index + 1
                    hints, folded = hints | self._hints.found(text), folded | self._folded.found(text.lower())
                    break
            else:
                return text

    def _plan(self, hints: frozenset[str], folded: frozenset[str]) -> tuple[tuple[int, Rule], ...]:
        """The steps a text needs by the hints found (as written, and in the text lowered), in order, with
        their indices."""
        found = (hints, folded)
        plan = self._plans.get(found)
        if plan is None:
            if len(self._plans) >= _PLAN_CACHE:
                self._plans.clear()
            plan = self._plans[found] = tuple(
                (index, step.rule)
                for index, step in enumerate(self._steps)
                if not step.hints or not (folded if step.fold else hints).isdisjoint(step.hints)
            )
        return plan

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every step, in the order `redact` applies them."""
        return self._steps

    @property
    def rules(self) -> tuple[tuple[str, Rule], ...]:
        """Every rule, name and function (hint test included), in the order `redact` applies them."""
        return tuple((step.name, step.apply) for step in self._steps)

    def findings(self, text: str) -> list[str]:
        """Names of the rules that match (for tests and reports, never the values)."""
        return [name for name, rule in self.rules if rule(text) != text]

    def redact_labels(self, labels: dict[str, str]) -> dict[str, str]:
        """Label values redacted; a stream's labels repeat on every line, so the answers are remembered."""
        key = tuple(labels.items())
        cached = self._labels.get(key)
        if cached is None:
            if len(self._labels) >= _LABEL_CACHE:
                self._labels.clear()
            cached = self._labels[key] = self.redact_tree(labels)
        return dict(cached)

    def redact_tree(self, value: Any) -> Any:
        """A decoded JSON value with every string redacted, and every value of a secret-named key."""
        if isinstance(value, str):
            return self._redact_value(value)
        if isinstance(value, list):
            return [self.redact_tree(v) for v in value]
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            held = named_secret(value)
            for key, item in value.items():
                kind = self._key_class(key) if isinstance(key, str) else None
                if key == held or (
                    kind is not None and isinstance(item, str | int) and is_secret_value(str(item), kind)
                ):
                    out[key] = TAG.format("assignment")
                else:
                    out[key] = self.redact_tree(item)
            return out
        return value

    def _key_class(self, key: str) -> str | None:
        """`key_class` of a JSON key, remembered: a line's keys are its logger's, the same on every line, and
        the output keeps every key as it is anyway."""
        kinds = self._kinds
        if key in kinds:
            return kinds[key]
        if len(kinds) >= _LABEL_CACHE:
            kinds.clear()
        kind = kinds[key] = key_class(key)
        return kind

    def _redact_value(self, text: str) -> str:
        """`redact` of a decoded value, remembering the short ones that hold no secret."""
        if text in self._clean:
            return text
        redacted = self.redact(text)
        if redacted == text and len(text) <= _CLEAN_CHARS:
            if len(self._clean) >= _CLEAN_CACHE:
                self._clean.clear()
            self._clean.add(text)
        return redacted


@functools.lru_cache(maxsize=8)
def redactor_for(extra_patterns: tuple[str, ...] = ()) -> Redactor:
    """One compiled Redactor per set of user patterns (parsing asks for it once per line)."""
    return Redactor(extra_patterns)
