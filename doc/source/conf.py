"""Sphinx configuration for os-numa."""

project = "os-numa"
copyright = "2026, the os-numa authors"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode", "oslo_config.sphinxext"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
exclude_patterns = []
html_theme = "alabaster"
nitpicky = False
