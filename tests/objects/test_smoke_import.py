import os_numa.objects as o


def test_acceptance_primitive_round_trip():
    t = o.InstanceNUMATopology(
        cells=[o.InstanceNUMACell(id=0, cpuset=set(), pcpuset={0, 1}, memory=1024,
                                  cpuset_reserved={3})],
        emulator_threads_policy="isolate",
    )
    prim = t.obj_to_primitive()
    back = o.InstanceNUMATopology.obj_from_primitive(prim)
    assert back.cells[0].cpuset_reserved == {3}
    assert back.emulator_threads_policy == "isolate"
