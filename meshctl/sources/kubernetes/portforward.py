"""Port-forward to a pod through the API server (pods/portforward over WebSocket), e.g. to Envoy's admin.

``open_admin(pod, namespace)`` returns a :class:`PortForward` whose ``base_url`` (``http://127.0.0.1:N``)
reaches the pod's port 15000; every local TCP connection becomes one WebSocket stream made by the official
client's ``kubernetes.stream.portforward``. ``open_istiod()``/``istiod_debug()`` do the same for istiod's
debug port 15014 (``/debug/syncz``, ``/debug/config_dump?proxyID=``).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from meshctl.errors import EXIT_UNAVAILABLE, MeshctlError
from meshctl.sources.kubernetes.client import KubeClient
from meshctl.sources.kubernetes.errors import KubeApiError, KubeError, KubeForbiddenError, Missing

ENVOY_ADMIN_PORT = 15000
ISTIOD_DEBUG_PORT = 15014


def _pump(src: Any, dst: Any, before_eof: Any = None) -> None:
    """Copy ``src`` to ``dst`` until EOF or an error, then (after ``before_eof()``) half-close ``dst`` so the
    peer sees the end."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    if before_eof is not None:
        before_eof()
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _close_gracefully(sock: Any, timeout: float = 2.0) -> None:
    """Half-close, read what is still in flight until EOF, then close: closing a socket with unread data
    resets it, and the client library's forwarding thread would die on that with a traceback."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    try:
        sock.settimeout(timeout)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    sock.close()


class PortForwardError(KubeError):
    """The API server took the port-forward, but the pod's port cannot be reached (the kubelet's error channel,
    or the stream broke): named by pod and port like istioctl, never by the random local port. Exit 69."""

    def __init__(self, namespace: str, pod: str, port: int, reason: str) -> None:
        super().__init__(f"port-forward to {namespace}/{pod}:{port} failed: {reason}", exit_code=EXIT_UNAVAILABLE)


class PortForward:
    """A local listener on 127.0.0.1 forwarding each connection to ``pod:remote_port``. Close it when done."""

    def __init__(self, client: KubeClient, pod: str, namespace: str, remote_port: int, *, local_port: int = 0, own_client: bool = False) -> None:
        self.client, self.pod, self.namespace, self.remote_port = client, pod, namespace, remote_port
        self._own_client = own_client
        self._listener = socket.create_server(("127.0.0.1", local_port))
        self.local_port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        #: why the last forwarded connection failed (the kubelet's error text, or the API error), if it did
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._accept, name=f"meshctl-portforward:{pod}:{remote_port}", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.local_port}"

    def _open_stream(self) -> Any:
        """One WebSocket stream to the pod port (the official client's ``portforward_call``).

        Called directly rather than through the generated ``CoreV1Api``, whose first use costs seconds of
        import and validator building.
        """
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream.ws_client import portforward_call

        api = self.client.api_client
        path = f"/api/v1/namespaces/{urllib.parse.quote(self.namespace)}/pods/{urllib.parse.quote(self.pod)}/portforward"
        try:
            _, url, headers, _, _ = api.param_serialize("GET", path, query_params=[("ports", str(self.remote_port))],
                                                        header_params={}, auth_settings=["BearerToken"])
            return portforward_call(api.configuration, "GET", url, headers=headers,
                                    query_params=[("ports", str(self.remote_port))])
        except ApiException as e:
            raise self._error(e) from None

    def _error(self, e: Any) -> KubeError:
        text = str(getattr(e, "reason", "") or e)
        m = re.search(r"Handshake status (\d+)", text)
        status = int(m.group(1)) if m else int(getattr(e, "status", 0) or 0)
        body = text.split("-+-+-")[-1] if "-+-+-" in text else ""
        msg = ""
        m2 = re.search(r'"message":\s*"((?:[^"\\]|\\.)*)"', body)
        if m2:
            msg = m2.group(1).encode().decode("unicode_escape")
        if status == 403:
            return KubeForbiddenError([Missing("create", "pods/portforward", self.namespace)], msg)
        if status == 401:
            return self.client.status_error(401, None, verb="create", resource="pods/portforward", namespace=self.namespace)
        if status == 404:
            return KubeApiError(404, msg or f'pod "{self.pod}" not found in namespace "{self.namespace}"')
        if status:
            return KubeApiError(status, msg or text)
        return self.client.unreachable(e)

    def check(self) -> None:
        """Open and close one stream now, so a missing pod, RBAC or an unreachable server fails here clearly."""
        pf = self._open_stream()
        _close_gracefully(pf.socket(self.remote_port))  # a server may speak first (HTTP/2 SETTINGS)
        err = pf.error(self.remote_port)  # (racy here: the half-close may win; _serve records it reliably)
        if err:
            raise PortForwardError(self.namespace, self.pod, self.remote_port, err.strip())

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)
        remote = None
        try:
            try:
                pf = self._open_stream()
            except KubeError as e:
                self.last_error = e.message
                return
            remote = pf.socket(self.remote_port)
            remote.setblocking(True)
            t = threading.Thread(target=_pump, args=(conn, remote), daemon=True)
            t.start()
            _pump(remote, conn, before_eof=lambda: self._record_error(pf))
            t.join(5)
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()
            if remote is not None:
                _close_gracefully(remote)

    def _record_error(self, pf: Any) -> None:
        """Keep the kubelet's error text for this stream (set before the client library closes the stream's
        socket, so it is there at EOF) -- *before* the local connection sees EOF and the caller gives up."""
        err = pf.error(self.remote_port)
        if err:
            self.last_error = err.strip()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        self._thread.join(2)
        if self._own_client:
            self.client.close()

    def __enter__(self) -> PortForward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_port_forward(pod: str, namespace: str | None, port: int, *, client: KubeClient | None = None, kubeconfig: str | None = None,
                      context: str | None = None, local_port: int = 0, check: bool = True) -> PortForward:
    """Forward ``127.0.0.1:<local_port>`` to ``pod:port`` (``pod`` may be ``pod/NAME`` or ``NAME``).

    ``namespace`` None means the kubeconfig context's namespace. With ``check`` a first stream is opened at
    once, so a missing pod, RBAC or an unreachable server fails here with a clear error.
    """
    own = client is None
    kc = client or KubeClient.connect(kubeconfig, context)
    name = pod.split("/", 1)[1] if pod.startswith(("pod/", "pods/", "po/")) else pod
    pf = PortForward(kc, name, namespace or kc.namespace, port, local_port=local_port, own_client=own)
    if check:
        try:
            pf.check()
        except BaseException:
            pf.close()
            raise
    return pf


def open_admin(pod: str, namespace: str | None, port: int = ENVOY_ADMIN_PORT, **kw: Any) -> PortForward:
    """Port-forward to a pod's Envoy admin (15000); ``.base_url`` is what ``proxy-config --admin`` takes."""
    return open_port_forward(pod, namespace, port, **kw)


@contextlib.contextmanager
def port_forward(pod: str, namespace: str | None, port: int = ENVOY_ADMIN_PORT, *, kubeconfig: str | None = None,
                 context: str | None = None) -> Iterator[str]:
    """``with port_forward(pod, ns, 15000, kubeconfig=...) as url:`` -- the seam ``meshctl proxy-config pod/x`` uses."""
    with open_port_forward(pod, namespace, port, kubeconfig=kubeconfig, context=context) as pf:
        try:
            yield pf.base_url
        except PortForwardError:
            raise
        except MeshctlError as e:  # "cannot reach http://127.0.0.1:<random>" means: the forward broke
            if pf.last_error:
                raise PortForwardError(pf.namespace, pf.pod, port, pf.last_error) from e
            if e.exit_code == EXIT_UNAVAILABLE:
                raise PortForwardError(pf.namespace, pf.pod, port, _strip_local(e.message, pf.base_url)) from e
            raise


def _strip_local(message: str, base_url: str) -> str:
    """An admin error without the local listener's address (meaningless to the user)."""
    for prefix in (f"cannot reach Envoy admin at {base_url}: ", f"{base_url}: "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message.replace(base_url, "the pod")


def find_istiod(client: KubeClient, istio_namespace: str = "istio-system", revision: str | None = None) -> str:
    """The name of a running istiod pod (label ``app=istiod``, optionally ``istio.io/rev=<revision>``)."""
    sel = "app=istiod" + (f",istio.io/rev={revision}" if revision else "")
    body = client.request("GET", f"/api/v1/namespaces/{istio_namespace}/pods", query=[("labelSelector", sel)],
                          verb="list", resource="pods", namespace=istio_namespace)
    pods = [p for p in body.get("items") or [] if (p.get("status") or {}).get("phase") == "Running"]
    if not pods:
        raise KubeApiError(404, f"no running istiod pod (label {sel}) in namespace {istio_namespace}")
    return str(sorted(pods, key=lambda p: p["metadata"]["name"])[0]["metadata"]["name"])


def open_istiod(*, client: KubeClient | None = None, kubeconfig: str | None = None, context: str | None = None,
                istio_namespace: str = "istio-system", revision: str | None = None, port: int = ISTIOD_DEBUG_PORT) -> PortForward:
    """Port-forward to istiod's debug port (15014) for ``/debug/syncz`` and ``/debug/config_dump?proxyID=``."""
    own = client is None
    kc = client or KubeClient.connect(kubeconfig, context)
    try:
        pod = find_istiod(kc, istio_namespace, revision)
    except BaseException:
        if own:
            kc.close()
        raise
    pf = PortForward(kc, pod, istio_namespace, port, own_client=own)
    try:
        pf.check()
    except BaseException:
        pf.close()
        raise
    return pf


def istiod_debug(path: str, **kw: Any) -> bytes:
    """GET ``path`` (``/debug/syncz``, ``/debug/config_dump?proxyID=x.ns``) from istiod through a port-forward."""
    with open_istiod(**kw) as pf:
        try:
            with urllib.request.urlopen(pf.base_url + path, timeout=30) as resp:  # noqa: S310 - loopback only
                return bytes(resp.read())
        except (urllib.error.URLError, OSError) as e:
            raise KubeApiError(502, f"istiod {path} through port-forward failed: {e}") from None
