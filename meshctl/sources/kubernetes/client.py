"""A thin JSON client over the official ``kubernetes`` package: kubeconfig/in-cluster auth, raw REST paths.

Why raw paths: meshctl reads ~25 kinds (half of them CRDs) as plain JSON and turns them into
:class:`~meshctl.sources.Resource` objects; the generated typed models would only add conversion cost. The
official client still does what matters: kubeconfig merging (``KUBECONFIG=a:b``), contexts, client certs,
bearer tokens, exec/OIDC credential plugins and their refresh, TLS verification and proxies.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

from meshctl.sources.kubernetes.errors import (
    KubeApiError,
    KubeAuthError,
    KubeConfigError,
    KubeError,
    KubeForbiddenError,
    KubeUnreachableError,
    Missing,
)

IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path, not a secret
IN_CLUSTER_NS = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class KubeClient:
    """One API server connection: ``context`` name, ``server`` URL and the context's default ``namespace``."""

    def __init__(self, api_client: Any, *, context: str, server: str, namespace: str = "default", kubeconfig: str | None = None) -> None:
        self.api_client = api_client
        self.context = context
        self.server = server
        self.namespace = namespace
        self.kubeconfig = kubeconfig

    # --- construction ----------------------------------------------------------------------------------------
    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None) -> KubeClient:
        """From ``kubeconfig`` (a path or ``a:b`` list; default ``$KUBECONFIG`` then ``~/.kube/config``), else in-cluster."""
        from kubernetes import client as kclient
        from kubernetes import config as kconfig
        from kubernetes.config.config_exception import ConfigException

        path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        files = [p for p in path.split(os.pathsep) if p]
        have_file = any(os.path.exists(p) for p in files)
        if not have_file:
            if kubeconfig or os.environ.get("KUBECONFIG"):
                raise KubeConfigError("kubeconfig file not found", file=files[0] if files else path, usage=True)
            if os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(IN_CLUSTER_TOKEN):
                cfg = kclient.Configuration()
                try:
                    kconfig.load_incluster_config(client_configuration=cfg)
                except ConfigException as e:
                    raise KubeConfigError(f"in-cluster configuration: {e}", usage=True) from None
                ns = "default"
                if os.path.exists(IN_CLUSTER_NS):
                    with open(IN_CLUSTER_NS) as fh:
                        ns = fh.read().strip() or "default"
                cls._tune(cfg)
                return cls(kclient.ApiClient(cfg), context="in-cluster", server=cfg.host, namespace=ns)
            raise KubeConfigError(
                "no Kubernetes configuration: no kubeconfig at ~/.kube/config and not running in a cluster",
                usage=True,
                hints=["pass --kubeconfig PATH or set KUBECONFIG (meshctl x kube-emulator --kubeconfig-out PATH makes one)"],
            )
        try:
            contexts, current = kconfig.list_kube_config_contexts(config_file=path)
        except ConfigException as e:
            raise KubeConfigError(f"invalid kubeconfig: {e}", file=path) from None
        except Exception as e:  # yaml errors, unreadable files
            raise KubeConfigError(f"invalid kubeconfig: {e}", file=path) from None
        if not context and len(files) > 1:
            current = _first_current_context(files) or current
        names = [c.get("name") for c in contexts or []]
        if context and context not in names:
            raise KubeConfigError(f'context "{context}" does not exist (known: {", ".join(n for n in names if n) or "none"})', file=path, usage=True)
        if isinstance(current, str):
            current = next((c for c in contexts if c.get("name") == current), None)
        chosen = next((c for c in contexts if c.get("name") == context), None) if context else current
        if not chosen:
            raise KubeConfigError("no current-context set and no --context given", file=path, usage=True)
        cfg = kclient.Configuration()
        try:
            kconfig.load_kube_config(config_file=path, context=chosen["name"], client_configuration=cfg, persist_config=False)
        except ConfigException as e:
            raise KubeConfigError(f'context "{chosen["name"]}": {e}', file=path) from None
        except Exception as e:
            raise KubeConfigError(f'context "{chosen["name"]}": {e}', file=path) from None
        cls._tune(cfg)
        ns = (chosen.get("context") or {}).get("namespace") or "default"
        return cls(kclient.ApiClient(cfg), context=chosen["name"], server=cfg.host, namespace=ns, kubeconfig=path)

    @staticmethod
    def _tune(cfg: Any) -> None:
        # Fail fast on an unreachable server (the informer retries with its own backoff), but retry a GET
        # once on a pooled keep-alive connection the server closed meanwhile; allow parallel list/watch.
        import urllib3

        cfg.retries = urllib3.Retry(total=1, connect=0, read=1, redirect=0, status=0, other=0)
        cfg.connection_pool_maxsize = 64

    def close(self) -> None:
        try:
            self.api_client.close()
        except Exception:  # noqa: BLE001 - closing must never mask the real outcome
            pass

    # --- requests ----------------------------------------------------------------------------------------------
    def _send(self, method: str, path: str, query: list[tuple[str, Any]] | None, body: Any, content_type: str | None,
              timeout: float | tuple[float, float] | None) -> Any:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            m, url, hdrs, b, _ = self.api_client.param_serialize(
                method, path, query_params=query or [], header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            return self.api_client.call_api(m, url, header_params=hdrs, body=b, _request_timeout=timeout).response
        except KubeError:
            raise
        except Exception as e:
            raise self.unreachable(e) from None

    def unreachable(self, e: BaseException) -> KubeUnreachableError:
        reason = str(getattr(e, "reason", None) or e)
        reason = re.sub(r"<urllib3[^>]*>: ", "", reason)
        return KubeUnreachableError(
            f"cannot reach the Kubernetes API server at {self.server} (context {self.context}): {reason}",
            hints=["check --kubeconfig/--context, and that the cluster is up (kubectl cluster-info)"],
        )

    def request(self, method: str, path: str, *, query: list[tuple[str, Any]] | None = None, body: Any = None,
                content_type: str | None = None, timeout: float = 30.0, verb: str = "", resource: str = "",
                namespace: str | None = None) -> Any:
        """Send one request and return its decoded JSON; failures become :class:`KubeError` subclasses.

        ``verb``/``resource``/``namespace`` describe the request for a 403 message (``list virtualservices.networking.istio.io``).
        """
        resp = self._send(method, path, query, body, content_type, timeout)
        try:
            data = resp.data
        except Exception as e:
            raise self.unreachable(e) from None
        finally:
            resp.release_conn()
        if not 200 <= resp.status < 300:
            raise self.status_error(resp.status, data, verb=verb or method.lower(), resource=resource or path, namespace=namespace)
        try:
            return json.loads(data) if data else None
        except ValueError:
            raise KubeApiError(resp.status, f"response to {method} {path} is not JSON") from None

    def stream(self, path: str, *, query: list[tuple[str, Any]], timeout: tuple[float, float], verb: str = "watch",
               resource: str = "", namespace: str | None = None) -> Any:
        """Open a streaming GET (a watch); returns the urllib3 response (read it with :func:`iter_lines`)."""
        resp = self._send("GET", path, query, None, None, timeout)
        if not 200 <= resp.status < 300:
            try:
                data = resp.data
            finally:
                resp.release_conn()
            raise self.status_error(resp.status, data, verb=verb, resource=resource or path, namespace=namespace)
        return resp

    def status_error(self, status: int, data: bytes | None, *, verb: str, resource: str, namespace: str | None) -> KubeError:
        """The KubeError for an HTTP error answer (401, 403 with the missing permission, 404, 410, ...)."""
        message = ""
        try:
            body = json.loads(data or b"{}")
            message = body.get("message", "") if isinstance(body, dict) else ""
        except ValueError:
            message = (data or b"").decode(errors="replace")[:200]
        if status == 401:
            return KubeAuthError(
                f"the API server at {self.server} rejected the credentials of context {self.context} (401 Unauthorized): "
                "the token or client certificate is expired or invalid",
                hints=["refresh your credentials (e.g. re-run your cloud CLI's get-credentials / kubectl login), then retry"],
            )
        if status == 403:
            return KubeForbiddenError([Missing(verb, resource, namespace)], message)
        return KubeApiError(status, message or f"{verb} {resource}")


def _first_current_context(files: list[str]) -> str | None:
    """kubectl's rule for ``KUBECONFIG=a:b``: the first file that sets current-context wins.

    (The Python client's merger lets the last one win; meshctl follows kubectl.)
    """
    import yaml

    for f in files:
        try:
            with open(f) as fh:
                doc = yaml.safe_load(fh)
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(doc, dict) and doc.get("current-context"):
            return str(doc["current-context"])
    return None


def iter_lines(resp: Any) -> Iterator[bytes]:
    """Lines of a streaming response as they arrive (each watch event is one JSON line)."""
    buf = b""
    for chunk in resp.stream(amt=None, decode_content=False):
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield line
    if buf.strip():
        yield buf
