"""os_numa.nova inside a process with Nova 34 (its own venv; see conftest.nova_python)."""


def test_install_replaces_and_uninstall_restores_nova_functions(nova_python):
    got = nova_python(
        """
        import json
        import nova.virt.hardware as hw
        import os_numa.nova, os_numa.nova.hardware as ours
        before = {n: getattr(hw, n) for n in ours.REPLACES}
        names = os_numa.nova.install()
        swapped = all(getattr(hw, n) is getattr(ours, n) for n in ours.REPLACES)
        os_numa.nova.install()  # idempotent
        os_numa.nova.uninstall()
        restored = all(getattr(hw, n) is before[n] for n in ours.REPLACES)
        print(json.dumps([names, swapped, restored]))
        """
    )
    names, swapped, restored = got
    assert set(names) >= {
        "numa_get_constraints",
        "numa_fit_instance_to_host",
        "numa_usage_from_instance_numa",
    }
    assert swapped and restored


def test_nova_objects_round_trip_and_fit_through_the_bridge(nova_python):
    got = nova_python(
        """
        import json
        from nova import objects
        from nova.objects import fields
        objects.register_all()
        import os_numa.nova.hardware as ours
        from os_numa.nova import objects as bridge, primitives
        host = objects.NUMATopology(cells=[
            objects.NUMACell(id=i, cpuset=set(), pcpuset=set(range(4 * i, 4 * i + 4)),
                             memory=2048, cpu_usage=0, memory_usage=0, pinned_cpus=set(),
                             siblings=[{c} for c in range(4 * i, 4 * i + 4)], mempages=[],
                             socket=0)
            for i in range(2)])
        flavor = objects.Flavor(vcpus=4, memory_mb=2048, extra_specs={
            'hw:cpu_policy': 'dedicated', 'hw:emulator_threads_policy': 'isolate',
            'hw:numa_nodes': '2'})
        image = objects.ImageMeta.from_dict({'properties': {}})
        request = ours.numa_get_constraints(flavor, image)
        request_before = request.obj_to_primitive()
        placed = ours.numa_fit_instance_to_host(host, request, {})
        unchanged = request.obj_to_primitive() == request_before
        used = ours.numa_usage_from_instance_numa(host, placed)
        freed = ours.numa_usage_from_instance_numa(used, placed, free=True)
        # A release of memory that was never claimed clamps at zero (Nova's behaviour).
        clamped = ours.numa_usage_from_instance_numa(
            objects.NUMATopology(cells=[objects.NUMACell(
                id=c.id, cpuset=c.cpuset, pcpuset=c.pcpuset, memory=c.memory,
                cpu_usage=0, memory_usage=0, pinned_cpus=c.pinned_cpus,
                siblings=c.siblings, mempages=[], socket=0) for c in used.cells]),
            placed, free=True)
        print(json.dumps({
            'type': type(placed).__module__,
            'pins': [c.cpu_pinning for c in placed.cells],
            'reserved': [sorted(c.cpuset_reserved or []) for c in placed.cells],
            'pinned': [sorted(c.pinned_cpus) for c in used.cells],
            'freed': [sorted(c.pinned_cpus) for c in freed.cells],
            'clamped_memory': [c.memory_usage for c in clamped.cells],
            'request_unchanged': unchanged,
            'round_trip': primitives.round_trip_problems(placed.obj_to_primitive())
                          + primitives.round_trip_problems(used.obj_to_primitive()),
        }, default=str))
        """
    )
    assert got["type"] == "nova.objects.instance_numa"
    # nova-behaviour.md A1 with os-numa's lowest-numbered pCPUs: host 1 gets 4, 5 (Nova: 6, 7).
    assert got["pins"] == [{"0": 0, "1": 1}, {"2": 4, "3": 5}]
    assert got["reserved"] == [[2], []]
    assert got["pinned"] == [[0, 1, 2], [4, 5]]
    assert got["freed"] == [[], []]
    assert got["clamped_memory"] == [0, 0]
    assert got["request_unchanged"] is True
    assert got["round_trip"] == []


def test_errors_are_novas_classes(nova_python):
    got = nova_python(
        """
        import json
        from nova import exception, objects
        objects.register_all()
        import os_numa.nova.hardware as ours
        image = objects.ImageMeta.from_dict({'properties': {}})
        out = []
        for specs in ({'hw:numa_nodes': '3'},
                      {'hw:cpu_policy': 'dedicated', 'hw:emulator_threads_policy': 'pool'}):
            flavor = objects.Flavor(vcpus=2, memory_mb=1024, extra_specs=specs)
            try:
                ours.numa_get_constraints(flavor, image)
            except exception.NovaException as error:
                out.append([type(error).__name__, type(error.__cause__).__module__])
        print(json.dumps(out))
        """
    )
    assert got[0][0] in ("InvalidNUMANodesNumber", "ImageNUMATopologyAsymmetric")
    # os-numa's 'pool' cannot be stored in Nova's object: a Nova error, not a lost pool.
    assert got[1][0] in ("InternalError", "NovaException")
    assert got[0][1] == got[1][1] == "os_numa.exception"


#: A snippet for nova_python: the filter's log lines, kept in the list ``logged``.
KEEP_FILTER_LOG = """
        import logging
        logged = []
        class Keep(logging.Handler):
            def emit(self, record):
                logged.append(record.getMessage())
        filter_log = logging.getLogger('os_numa.nova.filters')
        filter_log.addHandler(Keep())
        filter_log.setLevel(logging.DEBUG)
"""


def test_filter_loads_through_available_filters_and_explains(nova_python):
    got = nova_python(
        """
        import json
        import nova.conf
        from nova import objects
        objects.register_all()
        from nova.scheduler import filters
        CONF = nova.conf.CONF
        CONF([], project='nova', default_config_files=[])
        CONF.set_override('available_filters',
            ['nova.scheduler.filters.all_filters', 'os_numa.nova.filters.NUMATopologyFilter'],
            group='filter_scheduler')
        handler = filters.HostFilterHandler()
        classes = handler.get_matching_classes(CONF.filter_scheduler.available_filters)
        ours = [c for c in classes if c.__module__ == 'os_numa.nova.filters']
        from nova.tests.unit.scheduler import fakes
        from nova.objects import fields
        host_topo = objects.NUMATopology(cells=[objects.NUMACell(
            id=0, cpuset=set(), pcpuset={0, 1, 2, 3}, memory=2048, cpu_usage=0,
            memory_usage=0, pinned_cpus=set(), siblings=[{0}, {1}, {2}, {3}], mempages=[])])
        def spec(vcpus):
            req = objects.InstanceNUMATopology(cells=[objects.InstanceNUMACell(
                id=0, cpuset=set(), pcpuset=set(range(vcpus)), memory=512,
                cpu_policy=fields.CPUAllocationPolicy.DEDICATED)])
            return objects.RequestSpec(numa_topology=req, pci_requests=None,
                flavor=objects.Flavor(extra_specs={}),
                image=objects.ImageMeta(properties=objects.ImageMetaProps()))
        host = fakes.FakeHostState('host1', 'node1', {
            'numa_topology': host_topo, 'pci_stats': None,
            'cpu_allocation_ratio': 16.0, 'ram_allocation_ratio': 1.5,
            'allocation_candidates': [{'mappings': {}}]})
        """
        + KEEP_FILTER_LOG
        + """
        f = ours[0]()
        fits = f.host_passes(host, spec(4))
        too_big = f.host_passes(host, spec(5))
        (why,) = [line for line in logged if 'fails NUMA topology requirements' in line]
        print(json.dumps([len(ours), ours[0].__name__, fits, too_big,
                          type(host.limits.get('numa_topology')).__name__, why]))
        """
    )
    assert got[:5] == [1, "NUMATopologyFilter", True, False, "NUMATopologyLimits"]
    # What the filter logs for a host that fails: os-numa's explanation.
    assert got[5].startswith("host1, node1 fails NUMA topology requirements: ")
    assert "host cell 0: 5 pCPUs needed, the cell has 4 pinnable pCPUs" in got[5]


def test_the_filter_explains_from_the_fit_it_ran(nova_python):
    """One fit per allocation candidate, and the logged reason is that fit's own result
    (os-numa's explain_fit, which would fit again, is never called)."""
    got = nova_python(
        """
        import json
        import nova.conf
        from nova import objects
        objects.register_all()
        from nova.objects import fields
        from nova.tests.unit.scheduler import fakes
        nova.conf.CONF([], project='nova', default_config_files=[])
        from os_numa import explain
        from os_numa.fit import fit
        from os_numa.nova import filters
        def refuse(*args, **kwargs):
            raise AssertionError('the filter fitted again to explain')
        explain.explain_fit = refuse
        runs = []
        attempt = fit.attempt
        def counted(*args, **kwargs):
            runs.append(1)
            return attempt(*args, **kwargs)
        fit.attempt = counted
        """
        + KEEP_FILTER_LOG
        + """
        cell = objects.NUMACell(
            id=0, cpuset=set(), pcpuset={0, 1, 2, 3}, memory=2048, cpu_usage=0,
            memory_usage=0, pinned_cpus={0, 1}, siblings=[{0}, {1}, {2}, {3}], mempages=[])
        request = objects.InstanceNUMATopology(cells=[objects.InstanceNUMACell(
            id=0, cpuset=set(), pcpuset={0, 1, 2}, memory=512,
            cpu_policy=fields.CPUAllocationPolicy.DEDICATED)])
        spec = objects.RequestSpec(numa_topology=request, pci_requests=None,
            flavor=objects.Flavor(extra_specs={}),
            image=objects.ImageMeta(properties=objects.ImageMetaProps()))
        host = fakes.FakeHostState('host1', 'node1', {
            'numa_topology': objects.NUMATopology(cells=[cell]), 'pci_stats': None,
            'cpu_allocation_ratio': 16.0, 'ram_allocation_ratio': 1.5,
            'allocation_candidates': [{'mappings': {}}, {'mappings': {}}]})
        passed = filters.NUMATopologyFilter().host_passes(host, spec)
        reasons = [line for line in logged if 'fails NUMA topology requirements' in line]
        print(json.dumps([passed, len(runs), reasons]))
        """
    )
    assert got[0] is False
    assert got[1] == 2  # one fit per candidate, none to explain
    (reason,) = got[2]
    assert reason.startswith("host1, node1 fails NUMA topology requirements: ")
    assert "host cell 0" in reason and "free" in reason, reason


def test_launcher_refuses_an_unknown_service_without_importing_nova(capsys):
    import sys

    from os_numa.nova import launch

    assert launch.main(["api"]) == 2
    assert launch.main([]) == 2
    assert "usage: os-numa-nova {compute,scheduler,conductor}" in capsys.readouterr().err
    assert "nova.cmd" not in sys.modules


def test_launcher_installs_os_numa_before_the_service_runs(nova_python):
    got = nova_python(
        """
        import json, sys, types
        import nova.cmd.compute as compute
        import nova.virt.hardware as hw
        seen = {}
        def fake_main():
            seen['argv'] = list(sys.argv)
            seen['fit'] = hw.numa_fit_instance_to_host.__module__
            return 0
        compute.main = fake_main
        from os_numa.nova import launch
        rc = launch.main(['compute', '--config-file', '/dev/null'])
        print(json.dumps([rc, seen]))
        """
    )
    assert got == [
        0,
        {"argv": ["nova-compute", "--config-file", "/dev/null"], "fit": "os_numa.nova.hardware"},
    ]


def test_nova_loads_what_the_bridge_writes(nova_python):
    got = nova_python(
        """
        import json
        from nova import objects
        objects.register_all()
        from os_numa import objects as ours
        from os_numa.nova import primitives as p
        flavor = objects.Flavor.obj_from_primitive(p.flavor_to_nova(
            ours.Flavor(vcpus=2, memory_mb=512, extra_specs={'hw:cpu_policy': 'dedicated'})))
        image = objects.ImageMeta.obj_from_primitive(p.image_meta_to_nova(
            ours.ImageMeta.from_dict({'properties': {'hw_numa_nodes': 2,
                'hw_numa_cpus.0': '0', 'hw_numa_cpus.1': '1', 'hw_mem_page_size': 'large',
                'hw_locked_memory': 'true'}})))
        dev = objects.PciDevice.obj_from_primitive(p.pci_device_to_nova(p.pci_device_from_nova(
            {'nova_object.name': 'PciDevice', 'nova_object.namespace': 'nova',
             'nova_object.version': '1.7', 'nova_object.data': {
                 'address': '0000:81:00.1', 'vendor_id': '8086', 'product_id': '154c',
                 'dev_type': 'type-VF', 'numa_node': 1, 'parent_addr': '0000:81:00.0'}})))
        print(json.dumps([flavor.vcpus, flavor.extra_specs,
                          [sorted(c) for c in image.properties.hw_numa_cpus],
                          image.properties.hw_mem_page_size, image.properties.hw_locked_memory,
                          dev.address, dev.numa_node, dev.parent_addr]))
        """
    )
    assert got == [
        2,
        {"hw:cpu_policy": "dedicated"},
        [[0], [1]],
        "large",
        True,
        "0000:81:00.1",
        1,
        "0000:81:00.0",
    ]


def test_when_the_cells_fit_but_nova_refuses_every_assignment_the_reason_says_which(
    nova_python,
):
    # Cell 0 has the guest's physnet but only 2 pCPUs; cell 1 has 4 pCPUs but not the physnet.
    got = nova_python(
        """
        import json
        from nova import objects
        objects.register_all()
        from nova.objects import fields
        from os_numa.nova import hardware
        def cell(id, pcpus, physnets):
            return objects.NUMACell(
                id=id, cpuset=set(), pcpuset=pcpus, memory=2048, cpu_usage=0,
                memory_usage=0, pinned_cpus=set(), siblings=[{c} for c in pcpus],
                mempages=[], network_metadata=objects.NetworkMetadata(
                    physnets=physnets, tunneled=False))
        host = objects.NUMATopology(cells=[cell(0, {0, 1}, {'foo'}), cell(1, {2, 3, 4, 5}, set())])
        request = objects.InstanceNUMATopology(cells=[objects.InstanceNUMACell(
            id=0, cpuset=set(), pcpuset={0, 1, 2}, memory=512,
            cpu_policy=fields.CPUAllocationPolicy.DEDICATED)])
        limits = objects.NUMATopologyLimits(cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0,
            network_metadata=objects.NetworkMetadata(physnets={'foo'}, tunneled=False))
        refused = hardware.fit_or_explain(host, request, {}, limits)
        plain = hardware.fit_or_explain(host, request, {})
        print(json.dumps([refused.placement is None, refused.verdict.fits, refused.reason,
                          hardware.numa_fit_instance_to_host(host, request, {}, limits) is None,
                          plain.reason, [c.id for c in plain.placement.cells],
                          plain.placement.cells[0].cpu_pinning_raw]))
        """
    )
    refused, cells_fit, reason, nova_none, plain_reason, cells, pins = got
    assert refused and cells_fit and nova_none
    assert reason == (
        "no assignment of guest cells to host cells passes Nova's network affinity check"
    )
    assert plain_reason is None and cells == [1]  # the placement names its host cell
    assert sorted(int(p) for p in pins.values()) == [2, 3, 4]
