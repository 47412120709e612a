"""find_assignment against brute force over random feasibility matrices, plus coverage rules."""

from itertools import permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from os_numa.fit.search import Coverage, feasibility, find_assignment, matching_obstacle


def brute(k, order, table, rules=()):
    for chosen in permutations(order, k):
        if not all(table[g][h] for g, h in enumerate(chosen)):
            continue
        if all(sum(r.weights.get(h, 0) for h in chosen) >= r.minimum for r in rules):
            return chosen
    return None


@st.composite
def problems(draw):
    n = draw(st.integers(0, 6))
    k = draw(st.integers(0, min(n + 1, 5)))
    hosts = [f"h{i}" for i in range(n)]
    order = draw(st.permutations(hosts))
    table = [{h: draw(st.booleans()) for h in hosts} for _ in range(k)]
    return k, order, table


def counted(table):
    calls = []

    def feasible(g, h):
        calls.append((g, h))
        return table[g][h]

    return feasible, calls


@settings(max_examples=150, deadline=None)
@given(problems())
def test_first_assignment_matches_brute_force(problem):
    k, order, table = problem
    feasible, calls = counted(table)
    assert find_assignment(k, order, feasible) == brute(k, order, table)
    assert len(calls) == len(set(calls))


@settings(max_examples=100, deadline=None)
@given(problems(), st.data())
def test_coverage_rules_match_brute_force(problem, data):
    k, order, table = problem
    rules = [
        Coverage(
            weights={h: data.draw(st.integers(0, 3)) for h in order},
            minimum=data.draw(st.integers(0, 6)),
        )
        for _ in range(data.draw(st.integers(1, 2)))
    ]
    feasible, _ = counted(table)
    assert find_assignment(k, order, feasible, rules) == brute(k, order, table, rules)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_obstacle_exactly_when_no_assignment(problem):
    k, order, table = problem
    if k > len(order):
        return
    found = matching_obstacle(k, order, lambda g, h: table[g][h])
    if brute(k, order, table) is not None:
        assert found is None
    else:
        guests, hosts = found
        assert len(hosts) < len(guests)
        assert set(hosts) == {h for g in guests for h in order if table[g][h]}


def test_physnet_coupling_nova_defect_1_false_negative():
    """Host cells of 2, 1, 2 pCPUs, physnet P1 on host 1 and P2 on host 2, both needed;
    guest cells of 1 and 2 vCPUs. Nova returned None; guest 0 -> 1, guest 1 -> 2 is valid."""
    free = {0: 2, 1: 1, 2: 2}
    vcpus = [1, 2]
    rules = [Coverage({1: 1}, 1, "physnet P1"), Coverage({2: 1}, 1, "physnet P2")]
    found = find_assignment(2, [0, 1, 2], lambda g, h: vcpus[g] <= free[h], rules)
    assert found == (1, 2)


def test_greedy_dead_end_is_repaired():
    # Guest 0 fits a and b, guest 1 only a: greedy would put guest 0 on a.
    table = [{"a": True, "b": True}, {"a": True, "b": False}]
    assert find_assignment(2, ["a", "b"], lambda g, h: table[g][h]) == ("b", "a")


@pytest.mark.parametrize("k,order,expected", [(0, [], ()), (2, ["a"], None)])
def test_edges(k, order, expected):
    assert find_assignment(k, order, lambda g, h: True) == expected


def test_feasibility_lists_hosts_in_order():
    table = [{"a": False, "b": True, "c": True}]
    assert feasibility(1, ["c", "a", "b"], lambda g, h: table[g][h]) == (("c", "b"),)
