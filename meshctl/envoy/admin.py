"""Read a proxy's configuration from wherever it lives: an Envoy admin URL, a saved dump, or a Kubernetes pod.

Read-only by construction: :class:`AdminClient` can only send GET requests, so inspecting a production proxy
can never change it. :class:`Target` is the seam every command uses; a pod target goes through the
Kubernetes adapter's port-forward (``meshctl.sources.kubernetes``) when that adapter is available.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from meshctl.envoy.dump import ConfigDump, load_dump, read_input
from meshctl.errors import InputError, UnavailableError, UsageError

#: The config_dump masks istioctl requests per subcommand.
MASKS = {
    "cluster": "dynamic_active_clusters,dynamic_warming_clusters,static_clusters",
    "listener": "dynamic_listeners,static_listeners",
    "route": "dynamic_route_configs,static_route_configs",
    "secret": "dynamic_active_secrets,dynamic_warming_secrets",
    "bootstrap": "bootstrap",
}

DEFAULT_ADMIN_PORT = 15000


class AdminClient:
    """A GET-only client for Envoy's admin API."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        if "://" not in url:
            url = "http://" + url
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"invalid admin URL {url!r}; expected e.g. http://127.0.0.1:15000")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str) -> bytes:
        """GET ``path`` (with query); non-200 answers and connection failures become clear errors (exit 69)."""
        url = self.url + path
        req = urllib.request.Request(url, method="GET")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:  # noqa: S310 - user-chosen admin URL
                return bytes(r.read())
        except urllib.error.HTTPError as e:
            body = e.read()[:200].decode(errors="replace").strip()
            raise UnavailableError(f"unexpected status code {e.code} from {url}: {body}") from e
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise UnavailableError(
                f"cannot reach Envoy admin at {self.url}: {reason}",
                hints=["is Envoy running, and is its admin address right? (istio-proxy: port 15000)"],
            ) from e

    def config_dump(self, mask: str | None = None, include_eds: bool = False) -> bytes:
        q = []
        if mask:
            q.append("mask=" + mask)
        if include_eds:
            q.append("include_eds")
        return self.get("/config_dump" + ("?" + "&".join(q) if q else ""))

    def clusters(self) -> bytes:
        return self.get("/clusters?format=json")

    def server_info(self) -> bytes:
        return self.get("/server_info")


@dataclass
class Target:
    """Where a proxy's configuration is read from: exactly one of ``admin``, ``files`` or ``pod``."""

    admin: str | None = None
    files: list[str] = field(default_factory=list)
    pod: str | None = None
    namespace: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    admin_port: int = DEFAULT_ADMIN_PORT
    #: what ``pod`` names: a pod, or a deployment/service resolved to its first running pod (like istioctl)
    workload_kind: str = "pod"

    @classmethod
    def from_args(
        cls,
        target: str | None,
        *,
        admin: str | None = None,
        files: tuple[str, ...] | list[str] = (),
        namespace: str | None = None,
        kubeconfig: str | None = None,
        context: str | None = None,
        admin_port: int = DEFAULT_ADMIN_PORT,
    ) -> Target:
        """Resolve CLI arguments (istioctl style: ``pod/NAME -n NS``, ``NAME.NS``, ``--file``, plus ``--admin``)."""
        given = sum(bool(x) for x in (target, admin, files))
        if given == 0:
            raise UsageError("no target: give a pod (pod/NAME[.NS]), --admin URL, or --file DUMP")
        if given > 1:
            raise UsageError("give only one of: a pod target, --admin URL, --file DUMP")
        if target and (target.startswith("http://") or target.startswith("https://")):
            return cls(admin=target)
        if target:
            kind, _, name = target.rpartition("/")
            wkind = _TARGET_KINDS.get(kind.lower() if kind else "pod")
            if wkind is None:
                raise UsageError(
                    f"unsupported target type {kind!r}: use pod/NAME, deployment/NAME, service/NAME, --admin URL or --file DUMP"
                )
            if "." in name:  # istioctl's NAME.NAMESPACE (the last dot; it wins over -n)
                name, namespace = name.rsplit(".", 1)
            return cls(
                pod=name,
                namespace=namespace,
                kubeconfig=kubeconfig,
                context=context,
                admin_port=admin_port,
                workload_kind=wkind,
            )
        if admin:
            return cls(admin=admin)
        return cls(files=list(files))

    def describe(self) -> str:
        if self.admin:
            return self.admin
        if self.files:
            return ", ".join(self.files)
        return f"{self.workload_kind}/{self.pod}.{self.namespace or 'default'}"

    @contextlib.contextmanager
    def client(self) -> Iterator[AdminClient]:
        """An admin client for a live target (admin URL, or a port-forward to the pod's admin port)."""
        if self.admin:
            yield AdminClient(self.admin)
            return
        if self.pod:
            with _pod_port_forward(self) as url:
                yield AdminClient(url)
            return
        raise UsageError("this needs a live proxy (--admin URL or a pod), not --file")

    def _read(self, fetch: Any) -> tuple[bytes, str]:
        if self.files:
            if len(self.files) != 1:
                raise UsageError("give exactly one --file here")
            path = self.files[0]
            return read_input(path), "<stdin>" if path == "-" else path
        with self.client() as c:
            return fetch(c), c.url

    def config_dump(self, kind: str | None = None, include_eds: bool = False) -> ConfigDump:
        """The proxy's config dump (only the section ``kind`` needs when reading a live proxy)."""
        mask = MASKS.get(kind or "") if not include_eds else None
        data, source = self._read(lambda c: c.config_dump(mask, include_eds))
        return load_dump(data, source, want={kind} if kind else None)

    def raw_config_dump(self) -> bytes:
        data, _ = self._read(lambda c: c.config_dump(None, True))
        return data

    def clusters_status(self) -> Any:
        """Runtime cluster/host status (``/clusters?format=json``, or a file holding it)."""
        from meshctl.envoy.views.endpoint import parse_clusters_status

        data, source = self._read(lambda c: c.clusters())
        return parse_clusters_status(data, source)

    def server_info(self) -> dict[str, Any]:
        data, source = self._read(lambda c: c.server_info())
        try:
            obj = json.loads(data)
        except json.JSONDecodeError as e:
            raise InputError(f"not JSON: {e.msg}", file=source, line=e.lineno) from e
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object (Envoy /server_info)", file=source)
        return obj


_TARGET_KINDS = {
    "pod": "pod",
    "pods": "pod",
    "po": "pod",
    "deployment": "deployment",
    "deployments": "deployment",
    "deploy": "deployment",
    "service": "service",
    "services": "service",
    "svc": "service",
}


def resolve_pod(target: Target) -> tuple[str, str | None]:
    """(pod, namespace) of a target: a deployment or service becomes its first running pod (by name)."""
    if target.workload_kind == "pod":
        return str(target.pod), target.namespace
    from meshctl.sources.kubernetes.client import KubeClient

    kc = KubeClient.connect(target.kubeconfig, target.context)
    try:
        ns = target.namespace or kc.namespace
        if target.workload_kind == "deployment":
            path, res = f"/apis/apps/v1/namespaces/{ns}/deployments/{target.pod}", "deployments.apps"
            obj = kc.request("GET", path, verb="get", resource=res, namespace=ns)
            selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        else:
            path = f"/api/v1/namespaces/{ns}/services/{target.pod}"
            obj = kc.request("GET", path, verb="get", resource="services", namespace=ns)
            selector = (obj.get("spec") or {}).get("selector") or {}
        if not selector:
            raise InputError(f"{target.workload_kind}/{target.pod} in {ns} has no pod selector")
        sel = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        pods = kc.request(
            "GET",
            f"/api/v1/namespaces/{ns}/pods",
            query=[("labelSelector", sel)],
            verb="list",
            resource="pods",
            namespace=ns,
        )
        items = (pods or {}).get("items") or []
        running = sorted(
            str(p["metadata"]["name"]) for p in items if (p.get("status") or {}).get("phase") == "Running"
        )
        if not running:
            raise UnavailableError(
                f"no running pod for {target.workload_kind}/{target.pod} in {ns} (selector {sel})"
            )
        return running[0], ns
    finally:
        kc.close()


@contextlib.contextmanager
def _pod_port_forward(target: Target) -> Iterator[str]:
    """Port-forward to the pod's admin port through the Kubernetes adapter, yielding a local admin URL."""
    pf = None
    try:
        mod = importlib.import_module("meshctl.sources.kubernetes.portforward")
        pf = getattr(mod, "port_forward", None)
    except ImportError:
        pf = None
    if pf is None:
        raise UnavailableError(
            f"live Kubernetes targets need --kubeconfig/cluster access (pod/{target.pod})",
            hints=[
                "use --admin http://127.0.0.1:15000 (e.g. after kubectl port-forward POD 15000) or --file DUMP"
            ],
        )
    pod, ns = resolve_pod(target)
    with pf(pod, ns, target.admin_port, kubeconfig=target.kubeconfig, context=target.context) as local:
        yield local if isinstance(local, str) and "://" in local else f"http://127.0.0.1:{local}"
