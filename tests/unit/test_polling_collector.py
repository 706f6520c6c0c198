"""The garbage collector's settings while a plan polls (`pipeline._collector_set_for_polling`)."""

from __future__ import annotations

import gc
import sys
import weakref

import pytest

from error_autopilot.pipeline import YOUNG_PASS_EVERY, _collector_set_for_polling


class _Node:
    """A tracked object that can hold another, to make a reference cycle."""

    def __init__(self) -> None:
        self.other: object = None


def test_thresholds_are_raised_while_polling_and_restored_after() -> None:
    before = gc.get_threshold()
    with _collector_set_for_polling():
        assert gc.get_threshold()[0] >= YOUNG_PASS_EVERY
    assert gc.get_threshold() == before


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="3.14's incremental collector has other generations")
def test_what_polling_kept_is_in_the_oldest_generation_after_it() -> None:
    with _collector_set_for_polling():
        kept = _Node()
    # a young pass after polling must not walk it again
    assert not any(o is kept for o in gc.get_objects(generation=0))
    assert not any(o is kept for o in gc.get_objects(generation=1))
    assert any(o is kept for o in gc.get_objects(generation=2))


def test_a_cycle_made_while_polling_is_still_collected() -> None:
    with _collector_set_for_polling():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
    assert gone() is not None  # only a cycle: reference counting cannot free it
    gc.collect()
    assert gone() is None
