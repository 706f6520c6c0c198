"""Which of a set of literal strings a text holds, all found in one pass over it (RE2's `Set`, a DFA over the
text's bytes): testing each literal with `in` was some 60 scans of every text redacted, and a regex
alternation of them tried the alternation at nearly every position."""

from __future__ import annotations

from collections.abc import Iterable

import re2  # type: ignore[import-untyped]


class Literals:
    """A fixed set of ASCII literals, and which of them a text holds.

    Exact, overlaps included: the set reports every literal that occurs anywhere, each on its own (`sk-` and
    `sk-ant-` in one place are two). ASCII, because a text is matched as UTF-8 bytes (lone surrogates passed
    through): an ASCII byte is never part of another character's encoding, so a literal is among the bytes
    exactly when it is among the characters."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(dict.fromkeys(words))
        if not all(word and word.isascii() for word in self.words):
            raise ValueError(f"not non-empty ASCII literals: {self.words!r}")
        self._set = None
        if self.words:
            self._set = re2.Set.SearchSet(re2.Options())
            for word in self.words:
                self._set.Add(re2.escape(word))
            self._set.Compile()

    def found(self, text: str) -> frozenset[str]:
        """The literals `text` holds."""
        if self._set is None:
            return frozenset()
        hits = self._set.Match(text.encode("utf-8", "surrogatepass"))
        return frozenset(map(self.words.__getitem__, hits)) if hits else frozenset()
