"""os_numa.placement against a real Placement service (openstack-placement, SQLite, loopback)."""

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from os_numa import conf, exception
from os_numa.objects import Flavor
from os_numa.placement import PlacementClient, Scheduler, register_host, sync_tree, tree
from os_numa.placement.request import placement_requests
from tests import fixtures_topology as ft


def options(**overrides):
    return conf.make_conf(**{f"placement.{k}": v for k, v in overrides.items()})


def dedicated(vcpus, memory=1024, **specs):
    return Flavor(
        vcpus=vcpus, memory_mb=memory, extra_specs={"hw:cpu_policy": "dedicated", **specs}
    )


def state_of(client, host_tree):
    """{provider name: (parent uuid, inventories, traits)} as Placement holds them."""
    held = {}
    for provider in host_tree.providers:
        record = client.get_provider(provider.uuid)
        _, inventories = client.get_inventories(provider.uuid)
        _, traits = client.get_traits(provider.uuid)
        fields = ("total", "reserved", "max_unit", "allocation_ratio")
        held[record["name"]] = (
            record["parent_provider_uuid"],
            {rc: tuple(inv[f] for f in fields) for rc, inv in inventories.items()},
            traits,
        )
    return held


def expected_state(host_tree):
    fields = ("total", "reserved", "max_unit", "allocation_ratio")
    return {
        p.name: (
            p.parent_uuid,
            {rc: tuple(inv.as_dict()[f] for f in fields) for rc, inv in p.inventories.items()},
            p.traits,
        )
        for p in host_tree.providers
    }


@pytest.mark.parametrize(
    "sample", ["intel-2s-20c-ht.xml", "amd-epyc-2s-nps4.xml", "large-16cell.xml"]
)
def test_sample_hosts_register_as_nested_trees_and_resync_writes_nothing(os_numa_placement, sample):
    client = os_numa_placement
    host_tree = tree.host_tree("h1", ft.sample_host(sample), options())
    first = sync_tree(client, host_tree)
    assert len(first.created) == len(host_tree.providers)
    assert state_of(client, host_tree) == expected_state(host_tree)
    generations = [client.get_provider(p.uuid)["generation"] for p in host_tree.providers]
    sent = client.requests_sent
    again = sync_tree(client, host_tree)
    # Per provider: the refused create (it exists), then its record, inventories, traits.
    assert client.requests_sent - sent == 4 * len(host_tree.providers)
    assert not again.changed
    assert [client.get_provider(p.uuid)["generation"] for p in host_tree.providers] == generations
    roots = client.list_providers(required="HW_NUMA_ROOT")
    assert len(roots) == len(host_tree.cells)


def test_only_changed_inventories_are_written(os_numa_placement):
    client = os_numa_placement
    host = ft.host(2, 4, shared={0, 4}, dedicated={1, 2, 3, 5, 6, 7})
    sync_tree(client, tree.host_tree("h", host, options()))
    changed = tree.host_tree("h", host, options(reserved_host_cpus=1))
    result = sync_tree(client, changed)
    assert result.inventories == (changed.cells[0].uuid,)
    assert result.traits == ()
    assert state_of(client, changed) == expected_state(changed)


def test_scheduling_allocates_on_the_fitted_cells_and_resync_after_claims_is_a_no_op(
    os_numa_placement,
):
    client = os_numa_placement
    cfg = options()
    host, _ = register_host(client, "h", ft.host(2, 4), cfg)
    scheduler = Scheduler(client, [host], cfg)
    flavor = dedicated(2, 1024, **{"hw:emulator_threads_policy": "isolate"})
    first = scheduler.schedule(flavor, instance_uuid="11111111-1111-4111-8111-111111111111")
    assert first.placed and first.host == "h"
    held = client.get_allocations(first.instance_uuid)["allocations"]
    cell_of = {p.uuid: p.cell for p in host.tree.cells}
    by_cell = {cell_of[rp]: body["resources"] for rp, body in held.items()}
    (cell,) = first.host_cells
    assert by_cell == {cell: {"PCPU": 3, "MEMORY_MB": 1024}}
    placement = first.placement.cells[0]
    assert len(placement.cpu_pinning) == 2 and len(placement.cpuset_reserved) == 1
    tracker_cell = host.tracker.host_topology.cells[cell]
    assert (
        tracker_cell.pinned_cpus == set(placement.cpu_pinning.values()) | placement.cpuset_reserved
    )
    # Two more guests of 3 pCPUs: one per cell is all that fits (4 pCPUs per cell).
    second = scheduler.schedule(flavor)
    third = scheduler.schedule(flavor)
    assert second.placed and set(second.host_cells) | set(first.host_cells) == {0, 1}
    assert not third.placed and third.candidates == 0
    assert third.reason == "Placement offered no candidate"
    usages = {p.cell: client.get_usages(p.uuid)["PCPU"] for p in host.tree.cells}
    assert usages == {0: 3, 1: 3}
    again = register_host(client, "h", ft.host(2, 4), cfg, tracker=host.tracker)[1]
    assert not again.changed
    scheduler.delete(first.instance_uuid)
    assert client.get_usages(host.tree.cell_provider(first.host_cells[0]).uuid)["PCPU"] == 0
    assert scheduler.stats.placed == 2 and scheduler.stats.rejected == 0


def test_two_cell_guest_lands_on_distinct_cells_with_each_groups_provider(os_numa_placement):
    client = os_numa_placement
    cfg = options()
    host, _ = register_host(client, "h", ft.host(2, 4), cfg)
    flavor = dedicated(4, 2048, **{"hw:numa_nodes": "2", "hw:emulator_threads_policy": "isolate"})
    (request,) = placement_requests(flavor)
    answer = client.allocation_candidates(request.query())
    pairs = sorted(
        tuple(host.tree.cell_of(answer_rp) for answer_rp in (m["_NUMA0"][0], m["_NUMA1"][0]))
        for m in (c["mappings"] for c in answer["allocation_requests"])
    )
    assert pairs == [(0, 1), (1, 0)]
    decision = Scheduler(client, [host], cfg).schedule(flavor)
    assert decision.placed
    assert decision.placement.cells[0].cpuset_reserved  # the emulator pCPU with guest cell 0
    cell0 = host.tree.cell_provider(decision.host_cells[0]).uuid
    assert decision.allocations[cell0]["PCPU"] == 3


def test_huge_pages_and_the_emulator_pool_are_counted_by_placement(os_numa_placement):
    client = os_numa_placement
    cfg = options()
    topology = ft.host(2, 4, huge_2m=1024, pool={3, 7}, dedicated={0, 1, 2, 4, 5, 6})
    host, _ = register_host(client, "h", topology, cfg)
    scheduler = Scheduler(client, [host], cfg)
    assert 2048 in scheduler.page_sizes()  # (classes of earlier tests stay in Placement)
    flavor = dedicated(
        1, 1024, **{"hw:mem_page_size": "large", "hw:emulator_threads_policy": "pool"}
    )
    placed = [scheduler.schedule(flavor) for _ in range(3)]
    assert [d.placed for d in placed] == [True, True, False]  # one pool pCPU per cell
    for decision in placed[:2]:
        cell = decision.host_cells[0]
        provider = host.tree.cell_provider(cell).uuid
        assert {
            k: v for k, v in decision.allocations[provider].items() if k != "CUSTOM_EMULATOR_POOL"
        } == {
            "CUSTOM_MEMORY_PAGE_2048": 512,
            "PCPU": 1,
        }
        assert decision.placement.cells[0].pagesize == 2048
        # The pool unit sits on the cell whose pool pCPU the fit chose.
        pool_cpu = decision.placement.emulator_pool_cpu
        pool_cell = next(c.id for c in topology.cells if pool_cpu in c.emulator_pool_cpus)
        pool_provider = host.tree.cell_provider(pool_cell).uuid
        assert decision.allocations[pool_provider]["CUSTOM_EMULATOR_POOL"] == 1
    assert {d.placement.emulator_pool_cpu for d in placed[:2]} == {3, 7}
    assert placed[2].reason == "Placement offered no candidate"


def test_a_fit_that_fails_after_placement_said_yes_is_counted_and_explained(os_numa_placement):
    client = os_numa_placement
    cfg = options()
    # Host "busy" has 3 pCPUs of cell 0 pinned by guests Placement does not know about.
    busy, _ = register_host(client, "busy", ft.host(1, 4, pinned={0, 1, 2}), cfg)
    spare, _ = register_host(client, "spare", ft.host(1, 4), cfg)
    alone = Scheduler(client, [busy], cfg).schedule(dedicated(2))
    assert not alone.placed and alone.candidates == 1
    assert alone.reason == "the NUMA fit refused all 1 candidates Placement offered"
    (rejection,) = alone.rejected
    assert rejection.host == "busy" and rejection.host_cells == (0,)
    assert "2 pCPUs needed" in rejection.reason and "1 free" in rejection.reason
    assert client.get_usages(busy.tree.cells[0].uuid)["PCPU"] == 0  # nothing written
    scheduler = Scheduler(client, [busy, spare], cfg)
    decisions = [scheduler.schedule(dedicated(2)) for _ in range(2)]
    assert [d.host for d in decisions] == ["spare", "spare"]
    assert {r.host for d in decisions for r in d.rejected} <= {"busy"}
    assert scheduler.stats.rejected == sum(len(d.rejected) for d in decisions)


def test_flat_inventory_offers_hosts_the_fit_rejects_and_nested_does_not(os_numa_placement):
    client = os_numa_placement
    sequence = [dedicated(3), dedicated(3), dedicated(2)]
    outcome = {}
    for model in ("flat", "nested"):
        os_numa_placement_reset(client)
        cfg = options()
        host, _ = register_host(client, f"{model}-h", ft.host(2, 4), cfg, model=model)
        scheduler = Scheduler(client, [host], cfg, model=model)
        outcome[model] = [scheduler.schedule(f) for f in sequence], scheduler.stats
    flat, flat_stats = outcome["flat"]
    nested, nested_stats = outcome["nested"]
    # Flat: 2 pCPUs are free in total (1 per cell): Placement offers the host, the fit refuses.
    assert [d.placed for d in flat] == [True, True, False]
    assert flat_stats.rejected == 1 and "fits no host cell" in flat[2].rejected[0].reason
    assert [d.placed for d in nested] == [True, True, False]
    assert nested_stats.rejected == 0 and nested[2].candidates == 0


def os_numa_placement_reset(client):
    """Delete every provider this client's tests made (allocations first)."""
    for provider in sorted(
        client.list_providers(), key=lambda p: p["uuid"] == p["root_provider_uuid"]
    ):
        allocations = client.request("GET", f"/resource_providers/{provider['uuid']}/allocations")[
            "allocations"
        ]
        for consumer in allocations:
            client.delete_allocations(consumer)
        client.delete_provider(provider["uuid"])


class RivalClient(PlacementClient):
    """Lets a rival act between our candidates and our allocation, once."""

    def __init__(self, transport, rival):
        super().__init__(transport)
        self.rival = rival

    def allocation_candidates(self, query):
        answer = super().allocation_candidates(query)
        if self.rival is not None:
            rival, self.rival = self.rival, None
            rival(answer)
        return answer


def test_a_lost_race_retries_with_fresh_candidates(os_numa_placement_service, os_numa_placement):
    cfg = options()
    hosts = [register_host(os_numa_placement, n, ft.host(1, 4), cfg)[0] for n in ("a", "b")]
    other = os_numa_placement_service.client()
    taken = []

    def rival(answer):
        # Another scheduler fills the cell of the first candidate we were offered.
        (provider,) = answer["allocation_requests"][0]["allocations"]
        taken.append(provider)
        other.put_allocations(
            "00000000-0000-4000-8000-000000000001",
            {provider: {"PCPU": 4, "MEMORY_MB": 1024}},
            project_id="p",
            user_id="u",
        )

    scheduler = Scheduler(RivalClient(os_numa_placement.transport, rival), hosts, cfg)
    decision = scheduler.schedule(dedicated(2))
    assert decision.placed and decision.retries == 1 and scheduler.stats.retries == 1
    (lost,) = taken
    won = next(h for h in hosts if h.name == decision.host).tree.cells[0].uuid
    assert won != lost
    assert os_numa_placement.get_usages(lost)["PCPU"] == 4
    assert os_numa_placement.get_usages(won)["PCPU"] == 2
    # The losing host's tracker holds nothing: the claim comes after the allocation.
    loser = next(h for h in hosts if h.tree.cells[0].uuid == lost)
    assert not loser.tracker.usage.instances
    assert not loser.tracker.host_topology.cells[0].pinned_cpus


def test_placement_errors_are_typed(os_numa_placement):
    host_tree = tree.host_tree("c", ft.host(1, 2), options())
    sync_tree(os_numa_placement, host_tree)
    with pytest.raises(exception.PlacementConflict, match="HTTP 409"):
        os_numa_placement.set_inventories(host_tree.cells[0].uuid, 0, {})  # stale generation
    with pytest.raises(exception.PlacementError, match="HTTP 400"):
        os_numa_placement.allocation_candidates([("resources", "PCPU:x")])


def test_keystoneauth_session_reaches_the_same_service(
    os_numa_placement_service, os_numa_placement
):
    auth = token_endpoint.Token(os_numa_placement_service.url, "admin")
    client = PlacementClient.from_session(ks_session.Session(auth=auth))
    host_tree = tree.host_tree("ks", ft.host(1, 2), options())
    assert sync_tree(client, host_tree).created
    assert os_numa_placement.get_provider(host_tree.root.uuid)["name"] == "ks"


def test_client_from_conf(os_numa_placement_service, os_numa_placement):
    cfg = options(auth_strategy="noauth2", endpoint=os_numa_placement_service.url)
    assert PlacementClient.from_conf(cfg).list_providers() == []
    with pytest.raises(exception.PlacementNotConfigured, match="needs \\[placement\\] endpoint"):
        PlacementClient.from_conf(options(auth_strategy="noauth2"))
    with pytest.raises(exception.PlacementNotConfigured, match="auth_type"):
        PlacementClient.from_conf(options())


def test_mixed_guest_takes_pcpu_and_vcpu_from_one_cell(os_numa_placement):
    client = os_numa_placement
    cfg = options()
    topology = ft.host(2, 4, shared={0, 4}, dedicated={1, 2, 3, 5, 6, 7})
    host, _ = register_host(client, "h", topology, cfg)
    scheduler = Scheduler(client, [host], cfg)
    flavor = Flavor(
        vcpus=3,
        memory_mb=1024,
        extra_specs={"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0"},
    )
    placed = [scheduler.schedule(flavor) for _ in range(3)]
    assert [d.placed for d in placed] == [True, True, False]  # 3 pCPUs per cell, 2 each
    for decision in placed[:2]:
        (cell,) = decision.host_cells
        provider = host.tree.cell_provider(cell).uuid
        assert decision.allocations == {provider: {"PCPU": 2, "VCPU": 1, "MEMORY_MB": 1024}}
        placement = decision.placement.cells[0]
        assert placement.cpuset == {0}
        assert set(placement.cpu_pinning.values()) <= topology.cells[cell].pcpuset
    assert {d.host_cells[0] for d in placed[:2]} == {0, 1}
