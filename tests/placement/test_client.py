"""The Placement client without its optional extra (keystoneauth1, requests).

The package imports without the extra, so the command line and the test fixtures can
name it; reaching a service is what fails, with the way to install the extra.
"""

from __future__ import annotations

import pytest
from oslo_config import cfg

from os_numa.cmd import main
from os_numa.placement import client

MISSING = "os_numa.placement needs keystoneauth1 and requests: pip install 'os-numa[placement]'"


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, method, path, body, headers):
        self.sent.append((method, path))
        return 200, {"resource_providers": []}


@pytest.fixture
def without_extra(monkeypatch):
    monkeypatch.setattr(client, "MISSING_EXTRA", MISSING)


def test_installed_extra_is_not_reported_missing():
    assert client.MISSING_EXTRA is None
    client.require_extra()


def test_reaching_a_service_without_the_extra_names_it(without_extra):
    with pytest.raises(ImportError, match=r"pip install 'os-numa\[placement\]'"):
        client.PlacementClient.noauth("http://127.0.0.1:9")
    with pytest.raises(ImportError, match="keystoneauth1"):
        client.PlacementClient.from_session(object())
    with pytest.raises(ImportError, match="keystoneauth1"):
        client.register_keystone_opts(cfg.ConfigOpts())


def test_a_transport_of_ones_own_needs_no_extra(without_extra):
    transport = _Recorder()
    placement = client.PlacementClient(transport)
    placement.request("GET", "/resource_providers")
    assert transport.sent == [("GET", "/resource_providers")]


def test_fleet_command_without_the_extra_exits_2_on_one_line(without_extra, capsys):
    assert main.main(["fleet", "--hosts", "1", "--placement-url", "http://127.0.0.1:9"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"os-numa: error: The request is invalid: {MISSING}\n"
