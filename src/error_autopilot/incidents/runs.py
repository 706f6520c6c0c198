"""A log line as constant text and *runs* (the values that change from line to line), and regexes that
recognise a line's skeleton and run kinds, or whole shape, without splitting it.

A run is a stretch of four or more hex digits, or the line's own time of day near its start (see
ingest.py for why). Its *kind* says what its characters are: `d` digits only, `t` a time, `w` letters
only, `l` / `u` / `m` digits and lower / upper / mixed-case letters.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

# `[0-9a-fA-F]{4,}`, spelled so the pattern starts with a plain character set: the regex engine then skips
# ahead to the next hex digit in C, where a leading repeat tries a match at every character (splitting a
# 500-character line took some 5 us, half of it that; most lines of ten thousand bugs are split)
RUN = re.compile(r"([0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]+)")
# a time of day near the start of a line, its own timestamp (`2026-11-25T03:17:42.123Z ERROR …`): a run of
# its own kind, else every second (and millisecond) of a storm would be a new shape
CLOCK = re.compile(r"\d\d:\d\d:\d\d(?:[.,]\d{1,9})?")
CLOCK_WITHIN = 48
# what follows a clock's first two digits: a plain character first, so the search skips to the next colon in C
# (`CLOCK`'s own search tries every digit: most lines of ten thousand bugs are searched)
_CLOCK_TAIL = re.compile(r":\d\d:\d\d")


def find_clock(line: str) -> re.Match[str] | None:
    """`CLOCK` in the line's start (within `CLOCK_WITHIN` characters)."""
    if _CLOCK_TAIL.search(line, 2, CLOCK_WITHIN) is None:  # every clock there has this tail there
        return None
    return CLOCK.search(line, 0, CLOCK_WITHIN)


def split(line: str, clock: re.Match[str] | None) -> list[str]:
    """The line's constant text and runs, alternating; the clock (`CLOCK` in the line's start) is one run."""
    if clock is None:
        return RUN.split(line)
    return [*RUN.split(line[: clock.start()]), clock.group(), *RUN.split(line[clock.end() :])]


def kinds(runs: Sequence[str]) -> str:
    """Each run's kind, one letter a run."""
    return "".join(["d" if r.isdigit() else "t" if ":" in r else "w" if r.isalpha() else "l" if r.islower()
                    else "u" if r.isupper() else "m" for r in runs])  # fmt: skip


# the characters of a run of each kind (`kinds`), given its length: `l` has a lower-case letter, a digit and
# no upper-case letter; `m` a letter of each case and a digit
_OF_KIND = {
    "d": "[0-9]{{{n}}}",
    "w": "[a-fA-F]{{{n}}}",
    "l": "(?![0-9]{{{n}}})(?![a-f]{{{n}}})[0-9a-f]{{{n}}}",
    "u": "(?![0-9]{{{n}}})(?![A-F]{{{n}}})[0-9A-F]{{{n}}}",
    "m": "(?![0-9a-f]{{{n}}})(?![0-9A-F]{{{n}}})(?![a-fA-F]{{{n}}})[0-9a-fA-F]{{{n}}}",
}
_HEX_STRETCH = re.compile("([0-9a-fA-F]+)")


def skeleton_template(
    parts: Sequence[str], kinds: str, varying: Sequence[int], flag: str = ""
) -> tuple[re.Pattern[str], tuple[int, ...], tuple[int, ...]]:
    """A regex that matches a line exactly when it has the skeleton of this one (every hex digit as one
    character, incidents/layouts.py), runs of these `kinds`, and this one's constant text but for its
    stretches of hex digits with a digit (`id 42`, `line 7`: what differs between the bugs of a skeleton;
    a word's hex letters, `failed`, are matched as they are). With it, the numbers of its groups that hold
    the runs, and of those that hold what else may differ between its lines (the runs not in `varying`
    and those stretches): a line's shape is known by that.

    A skeleton says where `RUN` splits a line: the constant text never holds four hex digits in a row, and
    runs are maximal. The clock is looked up by the span `CLOCK` found in the line: here it is only told
    apart as the skeleton does.

    `flag`: a pattern at the line's start that decides nothing, but says whether it matched: group 1 takes
    part in a match exactly when it did (the runs' groups then come after it)."""
    pattern: list[str] = [f"(?:(?={flag})())?"] if flag else []
    runs: list[int] = []
    other: list[int] = []
    group = 1 if flag else 0
    for n, part in enumerate(parts):
        if n % 2:
            group += 1
            runs.append(group)
            if n // 2 not in varying:
                other.append(group)
            if kinds[n // 2] == "t":  # the clock's digits as a skeleton reads them: ASCII ones any, others as they are
                pattern.append("(" + "".join("[0-9]" if c in string.digits else re.escape(c) for c in part) + ")")
            else:
                pattern.append("(" + _OF_KIND[kinds[n // 2]].format(n=len(part)) + ")")
            continue
        for m, piece in enumerate(_HEX_STRETCH.split(part)):
            if m % 2 and not piece.isalpha():
                group += 1
                other.append(group)
                pattern.append(f"([0-9a-fA-F]{{{len(piece)}}})")
            else:
                pattern.append(re.escape(piece))
    return re.compile("".join(pattern), re.DOTALL), tuple(runs), tuple(other)


def shape_template(
    parts: Sequence[str],
    clock: re.Match[str] | None,
    varying: Sequence[int],
    same: Sequence[Sequence[int]],
    guard: str = "",
) -> re.Pattern[str] | None:
    """A regex that matches a line exactly when the line has this shape: `split` gives it the same constant
    text, the clock at the same place, runs of the same lengths and kinds, the same value in every run
    not in `varying`, and equal values in each group of `same`, and `guard` (a pattern at the line's start,
    e.g. lookaheads ruling lines out) matches. Its groups are the line's runs.

    None when no regex says so simply: a varying run of mixed case, or one that could make a clock of its
    own (`CLOCK` takes the first) in some line of this skeleton."""
    clock_run, at = -1, 0
    for n, part in enumerate(parts):
        if n % 2 and clock is not None and at == clock.start():
            clock_run = n // 2
        at += len(part)
    free = set(varying)
    # every varying run's characters as digits: a clock this line does not have would show there first
    widest = "".join("0" * len(p) if n % 2 and n // 2 in free and n // 2 != clock_run else p
                     for n, p in enumerate(parts))  # fmt: skip
    first = CLOCK.search(widest, 0, CLOCK_WITHIN)
    if (first.start() if first is not None else None) != (clock.start() if clock is not None else None):
        return None
    equal_to = {i: group[0] for group in same for i in group[1:]}
    pattern = [guard]
    for n, part in enumerate(parts):
        i = n // 2
        if n % 2 == 0:
            pattern.append(re.escape(part))
        elif i in equal_to:
            pattern.append(f"(\\{equal_to[i] + 1})")
        elif i == clock_run:
            pattern.append(_clock_pattern(part))
        elif i not in free:
            pattern.append(f"({re.escape(part)})")
        elif (kind := kinds((part,))) in "dlu":  # what a varying run may hold: those characters, not another kind's
            pattern.append("(" + _OF_KIND[kind].format(n=len(part)) + ")")
        else:
            return None
    return re.compile("".join(pattern), re.DOTALL)


def _clock_pattern(clock: str) -> str:
    """A clock of this one's length, that `CLOCK` would not read longer. After its fraction comes constant
    text or a run that must match exactly (a digit before it joins it to the clock): never another digit.
    Without one, a `,` or `.` may be followed by a varying run, whose first digit `CLOCK` would take."""
    if len(clock) == 8:
        return r"(\d\d:\d\d:\d\d)(?![.,]\d)"
    return rf"(\d\d:\d\d:\d\d[.,]\d{{{len(clock) - 9}}})"
