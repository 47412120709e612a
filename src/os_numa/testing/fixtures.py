"""pytest plugin (entry point ``pytest11``) with os-numa fixtures for driver tests."""
