"""os-numa: NUMA, CPU pinning and emulator-thread placement for libvirt guests."""

__version__ = "0.1.0"
