"""A template's slots read from a message exactly as the regex `literal(.+?)literal…` (DOTALL) reads them."""

from __future__ import annotations

import random
import re

import pytest

from error_autopilot.incidents.messages import Template, template_slots


def _regex(literals: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("(.+?)".join(map(re.escape, literals)), re.DOTALL)


@pytest.mark.parametrize("seed", range(4))
def test_slots_are_where_the_lazy_regex_puts_them(seed: int) -> None:
    """Short texts over a tiny alphabet, so literals recur and most messages fit several ways or none."""
    rng = random.Random(seed)
    fitted = 0
    for _ in range(3000):
        slots = rng.randint(1, 4)
        middle = ["".join(rng.choices("ab\n", k=rng.randint(1, 2))) for _ in range(slots - 1)]
        ends = ["".join(rng.choices("ab", k=rng.randint(0, 2))) for _ in range(2)]
        literals = (ends[0], *middle, ends[1])
        fillers = ["".join(rng.choices("ab\n", k=rng.randint(1, 4))) for _ in range(slots)]
        built = literals[0] + "".join(f + lit for f, lit in zip(fillers, literals[1:], strict=True))
        text = built if rng.random() < 0.5 else "".join(rng.choices("ab\n", k=rng.randint(0, 14)))
        expected = _regex(literals).fullmatch(text)
        found = Template(literals).fullmatch(text)
        if expected is None:
            assert found is None, (literals, text)
            continue
        fitted += 1
        assert found is not None, (literals, text)
        assert found.groups() == expected.groups()
        assert [found.span(n) for n in range(1, slots + 1)] == [expected.span(n) for n in range(1, slots + 1)]
    assert fitted > 1400  # half are built to fit: those say where the slots go


def test_a_message_of_its_template() -> None:
    template, names = template_slots("order <int> for <email> failed after <duration>")
    assert template is not None and [kind for _, kind in names] == ["int", "email", "duration"]
    match = template.fullmatch("order 42 for a@b.org failed after 3 ms")
    assert match is not None and match.groups() == ("42", "a@b.org", "3 ms")
    assert match.span(2) == (13, 20)
    assert template.fullmatch("order 42 for a@b.org failed") is None
    assert template_slots("<int><int>") == (None, ())  # touching slots cannot be told apart


def test_many_places_to_try_stay_fast() -> None:
    """A message the template almost fits everywhere: each (slot, start) is tried once, not every combination."""
    template = Template(("", *[" "] * 7, "!"))
    assert template.fullmatch("x " * 500 + "x?") is None
