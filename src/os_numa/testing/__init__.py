"""Test helpers for downstream compute drivers: a fake libvirt host and pytest fixtures."""
