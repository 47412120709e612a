"""explain_fit: the fit's own search, with the reason per host cell and guest cell."""

import dataclasses

import pytest
from hypothesis import given, settings

from os_numa.explain import explain_fit, report
from os_numa.fit import numa_fit_instance_to_host as fit
from os_numa.fit.fit import attempt, make_problem
from tests import fixtures_topology as ft
from tests.fit.test_fit_properties import LIMITS, hosts, requests


def test_a2_names_the_emulator_pcpu():
    report = explain_fit(ft.a1_host(), ft.guest([4], emulator="isolate"))
    assert not report.fits and report.placement is None
    assert report.unplaceable == (0,)
    assert [str(v) for v in report.verdicts] == [
        "guest cell 0 on host cell 0: 5 pCPUs needed (4 vCPUs + 1 emulator), "
        "the cell has 4 pinnable pCPUs",
        "guest cell 0 on host cell 1: 5 pCPUs needed (4 vCPUs + 1 emulator), "
        "the cell has 4 pinnable pCPUs",
    ]
    assert report.summary() == (
        "Does not fit: guest cell 0 fits no host cell (host cells 0-1: 5 pCPUs needed "
        "(4 vCPUs + 1 emulator), the cell has 4 pinnable pCPUs)."
    )


def test_free_pcpus_with_numbers():
    host = ft.host(2, 4, pinned={0, 4})
    report = explain_fit(host, ft.guest([3], emulator="isolate"))
    assert "host cells 0-1: 4 pCPUs needed (3 vCPUs + 1 emulator), 3 free" in report.summary()


def test_summary_states_a_reason_once_for_all_the_host_cells_it_holds_on():
    report = explain_fit(ft.host(16, 4), ft.guest([5]))
    assert report.summary() == (
        "Does not fit: guest cell 0 fits no host cell (host cells 0-15: 5 pCPUs needed, "
        "the cell has 4 pinnable pCPUs)."
    )
    assert len(report.verdicts_for(0)) == 16  # the structured report keeps every pair


def test_summary_keeps_different_reasons_apart_in_host_order():
    host = ft.host(3, 4, pinned={0, 4, 5, 8})
    report = explain_fit(host, ft.guest([3], emulator="isolate"))
    assert report.summary() == (
        "Does not fit: guest cell 0 fits no host cell (host cells 0,2: 4 pCPUs needed "
        "(3 vCPUs + 1 emulator), 3 free; host cell 1: 4 pCPUs needed "
        "(3 vCPUs + 1 emulator), 2 free)."
    )


def test_several_emulator_pcpus_are_counted():
    request = ft.guest([3], emulator="isolate")
    request.emulator_threads_count = 2
    report = explain_fit(ft.a1_host(), request)
    assert "5 pCPUs needed (3 vCPUs + 2 emulator pCPUs), the cell has 4" in report.summary()


def test_whole_cores_for_thread_isolate():
    host = ft.host(1, 4, 2, pinned={1, 3})
    report = explain_fit(host, ft.guest([2], thread="isolate", emulator="isolate"))
    assert report.verdicts[0].shortfall.constraint == "whole_cores"
    assert "2 whole cores free" in report.summary()


def test_matching_failure_names_the_guest_cells_and_host_cells():
    report = explain_fit(ft.asymmetric_host(), ft.guest([5, 5, 1]))
    assert report.unplaceable == ()
    assert report.obstacle == ((0, 1), (2,))
    assert report.summary() == (
        "Does not fit: every guest cell fits some host cell, but not all at once: guest cells "
        "0 and 1 fit only host cell 2, and each guest cell needs a host cell of its own."
    )


def test_too_many_guest_cells():
    report = explain_fit(ft.a1_host(), ft.guest([1, 1, 1]))
    assert report.reason and "3 NUMA cells but the host has 2" in report.summary()


def test_fit_report_describes_the_placement():
    report = explain_fit(ft.a1_host(), ft.guest([2, 2], emulator="isolate"))
    assert report.fits
    assert report.summary() == (
        "Fits: guest cell 0 on host cell 0 (vCPU->pCPU 0->0, 1->1; emulator pCPU 2); "
        "guest cell 1 on host cell 1 (vCPU->pCPU 2->4, 3->5)."
    )
    assert len(report.verdicts) == 4
    assert str(report) == report.summary()


def test_str_lists_every_pair_when_it_does_not_fit():
    text = str(explain_fit(ft.a1_host(), ft.guest([4], emulator="isolate")))
    assert text.count("\n  guest cell 0 on host cell") == 2


def test_report_is_frozen():
    report = explain_fit(ft.a1_host(), ft.guest([1]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.fits = False


def test_missing_topology():
    assert not explain_fit(None, ft.guest([1])).fits


@settings(max_examples=60, deadline=None)
@given(hosts(), requests(), LIMITS)
def test_explanation_agrees_with_the_fit(host, request, limits):
    placement = fit(host, request, limits=limits)
    report = explain_fit(host, request, limits=limits)
    assert report.fits == (placement is not None)
    if placement is not None:
        assert report.placement.obj_to_primitive() == placement.obj_to_primitive()
    else:
        assert report.reason or report.unplaceable or report.obstacle
        for guest in report.unplaceable:
            assert all(not v.fits for v in report.verdicts_for(guest))


@settings(max_examples=40, deadline=None)
@given(hosts(), requests(), LIMITS)
def test_explaining_a_solved_problem_is_explaining_afresh(host, request, limits):
    """What fit_or_explain does (attempt, then explain the attempt) reports exactly
    what explain_fit reports from scratch."""
    problem = make_problem(host, request, limits)
    tried = attempt(problem, host, request)
    placement = tried.placement
    reused = report(tried)
    fresh = explain_fit(host, request, limits=limits)
    assert (placement is not None) == reused.fits == fresh.fits
    assert str(reused) == str(fresh)
    assert reused.verdicts == fresh.verdicts
    assert (reused.unplaceable, reused.obstacle) == (fresh.unplaceable, fresh.obstacle)


EMULATOR_OFF_REALTIME = {
    "every vCPU realtime": (
        ft.host(1, 2, 2),
        {0, 1, 2},
        "1 emulator pCPU needed off the cores of realtime vCPUs, 0 free there (every vCPU "
        "of the cell is realtime)",
    ),
    # 3-thread cores: 0-2 on one core, 3-4 on the other beside the only spare thread;
    # one housekeeping vCPU cannot replace both.
    "too few housekeeping vCPUs": (
        ft.host(1, 2, 3),
        {0, 1, 2, 3},
        "1 emulator pCPU needed off the cores of realtime vCPUs, 0 free there (even with "
        "its 1 housekeeping vCPU beside them)",
    ),
}


@pytest.mark.parametrize(
    "host,realtime,text", EMULATOR_OFF_REALTIME.values(), ids=EMULATOR_OFF_REALTIME
)
def test_emulator_pcpu_off_realtime_cores(host, realtime, text):
    request = ft.guest([len(host.cells[0].pcpuset) - 1], emulator="isolate")
    request.realtime_vcpus = realtime
    report = explain_fit(host, request)
    assert report.verdicts[0].shortfall.constraint == "emulator_pcpus"
    assert text in str(report)
