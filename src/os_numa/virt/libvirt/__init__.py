"""libvirt: XML element classes, host topology from capabilities, guest NUMA config."""
