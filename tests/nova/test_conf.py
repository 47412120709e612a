"""os-numa's options and Nova's live in one ConfigOpts, in either import order."""

import pytest

SHARED = [
    ("compute", "cpu_dedicated_set", "2-7"),
    ("compute", "cpu_shared_set", "0-1"),
    ("compute", "packing_host_numa_cells_allocation_strategy", True),
    ("libvirt", "realtime_scheduler_priority", 7),
]

CODE = """
import json, tempfile
{imports}
from oslo_config import cfg
conf_file = tempfile.NamedTemporaryFile('w', suffix='.conf', delete=False)
conf_file.write('''[DEFAULT]
reserved_host_memory_mb = 1024
reserved_huge_pages = node:0,size:2048,count:4
[neutron]
physnets = foo,bar
[neutron_physnet_foo]
numa_nodes = 1
[compute]
cpu_dedicated_set = 2-7
cpu_shared_set = 0-1
packing_host_numa_cells_allocation_strategy = true
[libvirt]
realtime_scheduler_priority = 7
[pci]
alias = {{"name": "a1", "vendor_id": "8086", "product_id": "154c"}}
[os_numa]
emulator_share_locality = host
''')
conf_file.close()
cfg.CONF([], project='nova', default_config_files=[conf_file.name])
import nova.conf, os_numa.conf
assert nova.conf.CONF is os_numa.conf.CONF
c = cfg.CONF
print(json.dumps({{
    'compute': [c.compute.cpu_dedicated_set, c.compute.cpu_shared_set,
                c.compute.packing_host_numa_cells_allocation_strategy],
    'libvirt': c.libvirt.realtime_scheduler_priority,
    'pci': c.pci.alias,
    'os_numa': c.os_numa.emulator_share_locality,
    'nova_only': c.cpu_allocation_ratio,
    'default': [c.reserved_host_memory_mb, c.reserved_huge_pages],
    'neutron': c.neutron.physnets,
    'cpuset': sorted(os_numa.conf.parse_cpu_set_option(c, 'compute', 'cpu_dedicated_set')),
}}))
"""


@pytest.mark.parametrize(
    "imports",
    ["import os_numa.conf\nimport nova.conf", "import nova.conf\nimport os_numa.conf"],
    ids=["os_numa-first", "nova-first"],
)
def test_both_import_orders_read_one_configuration(nova_python, imports):
    got = nova_python(CODE.format(imports=imports))
    assert got == {
        "compute": ["2-7", "0-1", True],
        "libvirt": 7,
        "pci": ['{"name": "a1", "vendor_id": "8086", "product_id": "154c"}'],
        "os_numa": "host",
        "nova_only": None,
        "default": [1024, [{"node": "0", "size": "2048", "count": "4"}]],
        "neutron": ["foo", "bar"],
        "cpuset": [2, 3, 4, 5, 6, 7],
    }


def test_nova_modules_that_register_options_import_after_os_numa(nova_python):
    # The import that failed before: os-numa first, then Nova's whole option tree and
    # the modules that read it.
    got = nova_python(
        """
        import json
        import os_numa.conf, os_numa.hardware
        import nova.conf, nova.virt.hardware, nova.scheduler.filters.numa_topology_filter
        from oslo_config import cfg
        print(json.dumps(sorted(k for k in cfg.CONF.compute if 'cpu_' in k)))
        """
    )
    assert "cpu_dedicated_set" in got and "cpu_shared_set" in got


def test_twin_equality_is_by_meaning():
    from oslo_config import cfg

    from os_numa import conf

    ours = next(o for o in conf.compute_opts if o.name == "cpu_shared_set")
    assert ours == cfg.StrOpt("cpu_shared_set", help="other words")
    assert ours != cfg.StrOpt("cpu_shared_set", default="0")
    assert ours != cfg.IntOpt("cpu_shared_set")
    # A registration of a different meaning is still refused.
    c = cfg.ConfigOpts()
    conf.register_opts(c)
    with pytest.raises(cfg.DuplicateOptError):
        c.register_opt(cfg.IntOpt("cpu_shared_set"), group="compute")
