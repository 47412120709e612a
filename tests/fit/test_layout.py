"""fit.layout: a cell's core layout, remembered by value and never stale."""

import pytest

from os_numa import smt
from os_numa.fit import layout
from os_numa.fit.layout import layout_of


@pytest.fixture(autouse=True)
def _fresh():
    layout.clear()
    yield
    layout.clear()


def test_equals_split_cores_of():
    siblings = [{0, 4}, {1, 5}, {2, 6}, {3, 7}]
    pcpus = frozenset({0, 1, 2, 4, 5, 6, 3})
    found = layout_of(siblings, pcpus)
    assert found[:3] == smt.split_cores_of(siblings, pcpus)
    assert found[:3] == (((0, 4), (1, 5), (2, 6), (3,)), {(3,)}, 2)
    assert found.core_of == {
        0: (0, 4),
        4: (0, 4),
        1: (1, 5),
        5: (1, 5),
        2: (2, 6),
        6: (2, 6),
        3: (3,),
    }
    assert found.all_free == smt.free_by_core(found.cores, pcpus, found.split)
    assert found.all_free.whole == ((0, 4), (1, 5), (2, 6))  # (3,) is split: never whole
    with pytest.raises(TypeError):
        found.core_of[7] = (7,)  # type: ignore[index]  # shared: read-only


def test_same_values_share_one_answer():
    first = layout_of([{0, 2}, {1, 3}], frozenset(range(4)))
    # Other objects with equal values (another host of the same model) hit.
    assert layout_of([{2, 0}, {3, 1}], frozenset(range(4))) is first


def test_changed_siblings_are_a_miss_not_a_stale_answer():
    siblings = [{0, 2}, {1, 3}]
    pcpus = frozenset(range(4))
    assert layout_of(siblings, pcpus).cores == ((0, 2), (1, 3))
    siblings[0].discard(2)  # the caller's mutable input changes in place
    siblings.append({2})
    assert layout_of(siblings, pcpus).cores == ((0,), (1, 3), (2,))
    assert layout_of([{0, 1}, {2, 3}], pcpus).cores == ((0, 1), (2, 3))
    # The cached copy is the caller's old value, not an alias of it.
    assert layout_of([{0, 2}, {1, 3}], pcpus).cores == ((0, 2), (1, 3))


def test_other_pcpus_are_another_key():
    siblings = [{0, 2}, {1, 3}]
    assert layout_of(siblings, frozenset({0, 1}))[:3] == (((0,), (1,)), {(0,), (1,)}, 2)
    assert layout_of(siblings, frozenset({0, 2}))[:3] == (((0, 2),), frozenset(), 2)


def test_any_iterable_of_groups():
    assert layout_of(iter([(0, 1)]), frozenset({0, 1})).cores == ((0, 1),)
    assert layout_of(((0, 1),), frozenset({0, 1})).cores == ((0, 1),)


def test_bounded():
    pcpus = frozenset(range(2))
    for shift in range(layout.LAYOUTS_PER_CELL * 3):
        layout_of([{0, 1}, {100 + shift}], pcpus)
    assert len(layout._known(pcpus)) == layout.LAYOUTS_PER_CELL
    for n in range(layout.CELLS + 10):
        layout_of([], frozenset({n}))
    assert layout._known.cache_info().currsize == layout.CELLS


def test_free_cores_equal_free_by_core_and_shared_by_value():
    siblings = [{0, 4}, {1, 5}, {2, 6}, {3, 7}]
    pcpus = frozenset({0, 1, 2, 4, 5, 6, 3})
    found = layout_of(siblings, pcpus)
    free = frozenset({0, 4, 1, 3})
    first = layout.free_cores(found, free)
    assert first == smt.free_by_core(found.cores, free, found.split)
    assert first.parts == (((0, 4), True), ((1,), False), ((3,), False))
    # An equal set built anew (the next fit's read of an unchanged host) hits.
    assert layout.free_cores(found, frozenset(sorted(free))) is first
    # Another free set, or the same set in another layout, is a miss, never stale.
    assert layout.free_cores(found, frozenset({0, 4, 1})).cores == ((0, 4), (1,))
    other = layout_of([{0, 1}, {2, 3}, {4, 5}, {6}], pcpus)
    assert layout.free_cores(other, free) == smt.free_by_core(other.cores, free, other.split)
    assert layout.free_cores(other, free).cores == ((0, 1), (3,), (4,))


def test_free_cores_bounded_and_cleared():
    found = layout_of([{n} for n in range(16)], frozenset(range(16)))
    for n in range(layout.FREE_SETS + 10):
        layout.free_cores(found, frozenset({n % 16, 16 + n}))
    assert layout._free_cores.cache_info().currsize == layout.FREE_SETS
    layout.clear()
    assert layout._free_cores.cache_info().currsize == 0
