import pytest

from os_numa.fit.memory import fit_memory
from os_numa.fit.outcome import Shortfall
from os_numa.fit.snapshot import guest_cells, host_cells
from tests import fixtures_topology as ft

PAGES = {
    # host 2 MiB pages, guest MiB, requested size, policy -> resolved size or shortfall
    "no request": (512, 1024, None, ft.DEDICATED, None),
    "small": (512, 1024, -1, ft.DEDICATED, 4),
    "large": (512, 1024, -2, ft.DEDICATED, 2048),
    "any prefers large": (512, 1024, -3, ft.DEDICATED, 2048),
    "any falls back": (10, 1024, -3, ft.DEDICATED, 4),
    "explicit": (512, 1024, 2048, ft.DEDICATED, 2048),
    "large short": (10, 1024, -2, ft.DEDICATED, "pages"),
    "explicit missing": (0, 1024, 2048, ft.DEDICATED, "pagesize"),
    "shared counts total small pages": (0, 4096, None, ft.SHARED, None),
    "pinned counts free small pages": (0, 4096, None, ft.DEDICATED, "pages"),
}


@pytest.mark.parametrize("huge,memory,pagesize,policy,expected", PAGES.values(), ids=PAGES)
def test_page_choice(huge, memory, pagesize, policy, expected):
    host = ft.host(1, 4, huge_2m=huge)
    host.cells[0].mempages[0].used = 1
    request = ft.guest([1], memory, pagesize=pagesize, policy=policy)
    result = fit_memory(host_cells(host)[0], guest_cells(request)[0])
    if isinstance(expected, str):
        assert isinstance(result, Shortfall) and result.constraint == expected
    else:
        assert result == expected
