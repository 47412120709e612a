"""Hypervisor drivers: the driver-agnostic base and the libvirt driver."""
