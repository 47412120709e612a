import pytest

from os_numa import smt

CORES_CASES = {
    "hash ordered groups are sorted": (
        [{6, 7}, {2, 3}, {0, 1}, {4, 5}],
        range(8),
        ((0, 1), (2, 3), (4, 5), (6, 7)),
    ),
    "split layout": ([{1, 9}, {0, 8}], {0, 1, 8, 9}, ((0, 8), (1, 9))),
    "restricted to pinnable cpus": ([{0, 1}, {2, 3}], {1, 2, 3}, ((1,), (2, 3))),
    "uncovered cpus become single cores": ([{2, 3}], {0, 2, 3, 5}, ((0,), (2, 3), (5,))),
    "no siblings at all": ([], {3, 1}, ((1,), (3,))),
    "duplicate groups counted once": ([{0, 1}, {0, 1}], {0, 1}, ((0, 1),)),
}


@pytest.mark.parametrize("siblings,cpus,expected", CORES_CASES.values(), ids=CORES_CASES)
def test_cores_of(siblings, cpus, expected):
    assert smt.cores_of(siblings, cpus) == expected


def test_split_cores_are_those_with_threads_outside_the_cpus():
    # pCPUs 0-2; 8 and 9 are shared CPUs beside 0 and 1; 2-10 a whole pinnable core.
    siblings = [{0, 8}, {1, 9}, {2, 10}]
    cores, split, threads = smt.split_cores_of(siblings, {0, 1, 2, 10})
    assert threads == 2
    assert cores == ((0,), (1,), (2, 10))
    assert split == {(0,), (1,)}
    assert smt.free_parts(cores, {0, 1, 2, 10}, split) == (
        ((0,), False),
        ((1,), False),
        ((2, 10), True),
    )
    assert smt.split_cores_of([], {3}) == (((3,),), frozenset(), 1)
    # A shared-only core still counts in the threads per core.
    assert smt.split_cores_of([{0}, {4, 5}], {0}) == (((0,),), frozenset(), 2)


def test_threads_per_core():
    assert smt.threads_per_core(((0, 1), (2,))) == 2
    assert smt.threads_per_core(()) == 1


def test_free_threads_and_whole_cores():
    cores = ((0, 1), (2, 3), (4, 5))
    free = {1, 2, 3}
    assert smt.free_parts(cores, free) == (((1,), False), ((2, 3), True))
    assert smt.free_threads(cores, free) == ((1,), (2, 3))
    assert smt.whole_free_cores(cores, free) == ((2, 3),)


def test_free_by_core_is_the_three_queries_in_one_pass():
    cores = ((0, 8), (1, 9), (2, 10), (3, 11))
    split = frozenset({(1, 9)})
    free = {0, 1, 9, 2, 10}
    found = smt.free_by_core(cores, free, split)
    assert found.parts == (((0,), False), ((1, 9), False), ((2, 10), True))
    assert found.cores == ((0,), (1, 9), (2, 10))
    assert found.whole == ((2, 10),)  # a split core is never whole, even when all free
    assert found.parts == smt.free_parts(cores, free, split)
    assert smt.free_by_core(cores, set()) == ((), (), ())


def test_core_of():
    cores = ((0, 8), (1, 9))
    assert smt.core_of(cores, 9) == (1, 9)
    assert smt.core_of(cores, 5) is None
