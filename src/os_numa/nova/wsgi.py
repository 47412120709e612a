"""Nova's compute API WSGI application with os-numa installed (serve it like
``nova.wsgi.osapi_compute``: ``application`` is that module's)."""

from __future__ import annotations

from nova.wsgi import osapi_compute

from os_numa import nova

nova.install()

application = osapi_compute.application
