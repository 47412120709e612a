"""A client of the OpenStack Placement HTTP API.

Every request carries ``OpenStack-API-Version: placement 1.39`` (the newest
microversion of Placement 16, needed for ``same_subtree``, ``root_required``,
string group suffixes, candidate ``mappings`` and ``consumer_type``). Two
ways to reach a service:

- :meth:`PlacementClient.noauth` (``[api] auth_strategy = noauth2`` on the
  server): a ``requests`` session and the ``X-Auth-Token`` header, for local
  services such as the test fixture's;
- :meth:`PlacementClient.from_session`: a keystoneauth1 session (or adapter)
  that adds a Keystone token and finds the endpoint in the service catalog,
  for a production Placement; :meth:`PlacementClient.from_conf` builds either
  from ``[placement]`` options.

Errors are typed: :class:`~os_numa.exception.PlacementConflict` for 409 (a
stale generation, or capacity taken by someone else) and
:class:`~os_numa.exception.PlacementError` for anything else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from oslo_config import cfg

from os_numa import conf as os_numa_conf
from os_numa import exception

# The optional extra os-numa[placement]. Without it this module still imports (the command
# line and the test fixtures name it), and only reaching a service raises ImportError.
try:
    import requests
    from keystoneauth1 import adapter as ks_adapter
    from keystoneauth1 import loading as ks_loading
except ImportError as _exc:  # pragma: no cover - depends on the installation
    #: Why this installation cannot reach a Placement service, or None when it can.
    MISSING_EXTRA: str | None = (
        f"os_numa.placement needs keystoneauth1 and requests: "
        f"pip install 'os-numa[placement]' ({_exc})"
    )
else:
    MISSING_EXTRA = None


def require_extra() -> None:
    """Raise ImportError (:data:`MISSING_EXTRA`) when keystoneauth1 or requests is missing."""
    if MISSING_EXTRA is not None:
        raise ImportError(MISSING_EXTRA)


MICROVERSION = "1.39"
#: Requests a single call may take before it is abandoned (seconds).
DEFAULT_TIMEOUT = 60.0
_SERVICE_TYPE = "placement"


class Transport(Protocol):
    """Sends one HTTP request; returns (status, parsed JSON body or None)."""

    def send(
        self, method: str, path: str, body: Any, headers: Mapping[str, str]
    ) -> tuple[int, Any]: ...


class _RequestsTransport:
    def __init__(self, endpoint: str, token: str, timeout: float) -> None:
        require_extra()
        self.endpoint = endpoint.rstrip("/")
        self.session = requests.Session()
        self.session.headers["X-Auth-Token"] = token
        self.timeout = timeout

    def send(self, method, path, body, headers):
        try:
            response = self.session.request(
                method,
                self.endpoint + path,
                data=None if body is None else json.dumps(body),
                headers=dict(headers),
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise exception.PlacementError(method=method, path=path, reason=str(exc)) from exc
        return response.status_code, _json(response)


class _KeystoneTransport:
    def __init__(self, session: Any, endpoint: str | None, timeout: float) -> None:
        require_extra()
        if isinstance(session, ks_adapter.Adapter):
            self.adapter = session
        else:
            self.adapter = ks_adapter.Adapter(
                session,
                service_type=_SERVICE_TYPE,
                endpoint_override=endpoint,
            )
        self.timeout = timeout

    def send(self, method, path, body, headers):
        try:
            response = self.adapter.request(
                path,
                method,
                data=None if body is None else json.dumps(body),
                headers=dict(headers),
                raise_exc=False,
                timeout=self.timeout,
            )
        except Exception as exc:  # keystoneauth1's errors have no common base below Exception
            raise exception.PlacementError(method=method, path=path, reason=str(exc)) from exc
        return response.status_code, _json(response)


def _json(response: Any) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return {"text": response.text[:2000]}


class PlacementClient:
    """Calls of the Placement API that os-numa needs, each one HTTP request.

    :param transport: how requests travel (see :meth:`noauth` and :meth:`from_session`).
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._known_classes: set[str] = set()
        self._known_traits: set[str] = set()
        #: HTTP requests sent so far (for benchmarks and tests).
        self.requests_sent = 0

    # -- construction -------------------------------------------------------------------

    @classmethod
    def noauth(
        cls, endpoint: str, token: str = "admin", timeout: float = DEFAULT_TIMEOUT
    ) -> PlacementClient:
        """A client of a Placement served with ``auth_strategy = noauth2`` at ``endpoint``."""
        return cls(_RequestsTransport(endpoint, token, timeout))

    @classmethod
    def from_session(
        cls, session: Any, endpoint: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> PlacementClient:
        """A client that sends through a keystoneauth1 ``Session`` or ``Adapter``.

        ``endpoint`` overrides the service catalog's ``placement`` endpoint.
        """
        return cls(_KeystoneTransport(session, endpoint, timeout))

    @classmethod
    def from_conf(cls, conf: Any = None) -> PlacementClient:
        """A client from ``[placement]`` options (None: the global ``CONF``).

        ``auth_strategy = noauth2`` needs ``endpoint``; ``keystone`` loads
        keystoneauth1's auth and session options of the same group
        (``auth_type``, ``auth_url``, ``username``, ``cafile``, ...), as Nova does.

        :raises PlacementNotConfigured: the options do not say how to reach Placement.
        """
        conf = os_numa_conf.CONF if conf is None else conf
        register_keystone_opts(conf)
        options = conf.placement
        if options.auth_strategy == "noauth2":
            if not options.endpoint:
                raise exception.PlacementNotConfigured(
                    reason="[placement] auth_strategy=noauth2 needs [placement] endpoint"
                )
            return cls.noauth(options.endpoint, options.noauth_token)
        auth = ks_loading.load_auth_from_conf_options(conf, "placement")
        if auth is None:
            raise exception.PlacementNotConfigured(
                reason="[placement] auth_type is not set (or use auth_strategy=noauth2)"
            )
        session = ks_loading.load_session_from_conf_options(conf, "placement", auth=auth)
        return cls.from_session(session, options.endpoint)

    # -- raw requests -------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: Sequence[int] = (200,),
        missing_ok: bool = False,
    ) -> Any:
        """Send one request; return its JSON body (None when empty).

        :param expect: the statuses that mean success.
        :param missing_ok: return None for 404 instead of raising.
        :raises PlacementConflict: 409.
        :raises PlacementError: any other unexpected status.
        """
        headers = {
            "OpenStack-API-Version": f"placement {MICROVERSION}",
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.requests_sent += 1
        status, payload = self.transport.send(method, path, body, headers)
        if status in expect:
            return payload
        if status == 404 and missing_ok:
            return None
        reason = f"HTTP {status}: {_detail(payload)}"
        if status == 409:
            raise exception.PlacementConflict(method=method, path=path, reason=reason)
        raise exception.PlacementError(method=method, path=path, reason=reason)

    # -- providers ----------------------------------------------------------------------

    def get_provider(self, provider_uuid: str) -> dict | None:
        return self.request("GET", f"/resource_providers/{provider_uuid}", missing_ok=True)

    def create_provider(self, name: str, provider_uuid: str, parent_uuid: str | None) -> dict:
        body = {"name": name, "uuid": provider_uuid}
        if parent_uuid is not None:
            body["parent_provider_uuid"] = parent_uuid
        return self.request("POST", "/resource_providers", body)

    def delete_provider(self, provider_uuid: str) -> None:
        self.request("DELETE", f"/resource_providers/{provider_uuid}", expect=(204,))

    def list_providers(self, **query: str) -> list[dict]:
        path = "/resource_providers" + (f"?{urlencode(sorted(query.items()))}" if query else "")
        return self.request("GET", path)["resource_providers"]

    def get_inventories(self, provider_uuid: str) -> tuple[int, dict[str, dict]]:
        """(provider generation, inventories by resource class)."""
        body = self.request("GET", f"/resource_providers/{provider_uuid}/inventories")
        return body["resource_provider_generation"], body["inventories"]

    def set_inventories(
        self, provider_uuid: str, generation: int, inventories: Mapping[str, dict]
    ) -> int:
        """Replace every inventory of the provider; returns the new generation."""
        body = {"resource_provider_generation": generation, "inventories": dict(inventories)}
        answer = self.request("PUT", f"/resource_providers/{provider_uuid}/inventories", body)
        return answer["resource_provider_generation"]

    def get_traits(self, provider_uuid: str) -> tuple[int, frozenset[str]]:
        body = self.request("GET", f"/resource_providers/{provider_uuid}/traits")
        return body["resource_provider_generation"], frozenset(body["traits"])

    def set_traits(self, provider_uuid: str, generation: int, traits: Sequence[str]) -> int:
        body = {"resource_provider_generation": generation, "traits": sorted(traits)}
        answer = self.request("PUT", f"/resource_providers/{provider_uuid}/traits", body)
        return answer["resource_provider_generation"]

    def get_usages(self, provider_uuid: str) -> dict[str, int]:
        return self.request("GET", f"/resource_providers/{provider_uuid}/usages")["usages"]

    def ensure_resource_class(self, name: str) -> None:
        """Create the custom resource class ``name`` unless it exists (idempotent)."""
        if name in self._known_classes or not name.startswith("CUSTOM_"):
            return
        self.request("PUT", f"/resource_classes/{quote(name)}", expect=(201, 204))
        self._known_classes.add(name)

    def ensure_trait(self, name: str) -> None:
        """Create the custom trait ``name`` unless it exists (standard traits always exist)."""
        if name in self._known_traits or not name.startswith("CUSTOM_"):
            return
        self.request("PUT", f"/traits/{quote(name)}", expect=(201, 204))
        self._known_traits.add(name)

    def resource_classes(self) -> list[str]:
        return [rc["name"] for rc in self.request("GET", "/resource_classes")["resource_classes"]]

    # -- scheduling ---------------------------------------------------------------------

    def allocation_candidates(self, query: Sequence[tuple[str, str]]) -> dict:
        """``GET /allocation_candidates`` with ``query`` (ordered key, value pairs)."""
        return self.request("GET", "/allocation_candidates?" + urlencode(list(query)))

    def get_allocations(self, consumer: str) -> dict:
        """``{"allocations": {rp: {"resources": ...}}, "consumer_generation": ..., ...}``."""
        return self.request("GET", f"/allocations/{consumer}")

    def put_allocations(
        self,
        consumer: str,
        allocations: Mapping[str, Mapping[str, int]],
        *,
        project_id: str,
        user_id: str,
        consumer_generation: int | None = None,
        consumer_type: str = "INSTANCE",
    ) -> None:
        """Replace ``consumer``'s allocations: ``{provider uuid: {class: amount}}``.

        ``consumer_generation`` None means a new consumer; Placement refuses
        (409) when another writer got there first or capacity ran out.
        """
        body = {
            "allocations": {rp: {"resources": dict(res)} for rp, res in allocations.items()},
            "consumer_generation": consumer_generation,
            "project_id": project_id,
            "user_id": user_id,
            "consumer_type": consumer_type,
        }
        self.request("PUT", f"/allocations/{consumer}", body, expect=(204,))

    def delete_allocations(self, consumer: str) -> None:
        self.request("DELETE", f"/allocations/{consumer}", expect=(204,), missing_ok=True)


def register_keystone_opts(conf: Any) -> None:
    """Register keystoneauth1's auth and session options in ``[placement]`` (idempotent)."""
    require_extra()
    os_numa_conf.register_opts(conf)
    try:
        ks_loading.register_session_conf_options(conf, "placement")
        ks_loading.register_auth_conf_options(conf, "placement")
    except cfg.DuplicateOptError:
        pass  # Nova registered its own (same names, other help texts): keep them


def _detail(payload: Any) -> str:
    if isinstance(payload, dict):
        errors = payload.get("errors")
        if errors:
            return "; ".join(
                f"{e.get('code', '')} {e.get('detail', e.get('title', ''))}".strip() for e in errors
            )[:2000]
        if "text" in payload:
            return payload["text"]
    return repr(payload)[:2000]
