"""A small synchronous ADS client: drives a stream request by request.

``meshctl proxy-status --xds`` uses it to ask for ``istio.io/debug/syncz`` like istioctl does; tests use it to
check the server's protocol rules response by response without an Envoy in between.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

from meshctl.errors import UnavailableError

_END = object()


class AdsClient:
    """One ADS stream (SotW, or delta with ``delta=True``) to ``target`` (``host:port``)."""

    def __init__(
        self, target: str, *, delta: bool = False, credentials: grpc.ChannelCredentials | None = None
    ) -> None:
        self.target = target
        self.channel = (
            grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
        )
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self.channel)
        self._out: queue.Queue[Any] = queue.Queue()
        self._in: queue.Queue[Any] = queue.Queue()
        method = stub.DeltaAggregatedResources if delta else stub.StreamAggregatedResources
        self._call = method(iter(self._out.get, _END))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for resp in self._call:
                self._in.put(resp)
        except grpc.RpcError as e:
            self._in.put(e)
        self._in.put(_END)

    def send(self, req: Any) -> None:
        self._out.put(req)

    def recv(self, timeout: float = 5.0) -> Any:
        """The next response; raises ``grpc.RpcError`` if the stream failed, ``TimeoutError`` if none came."""
        try:
            item = self._in.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no xDS response from {self.target} within {timeout}s") from None
        if isinstance(item, grpc.RpcError):
            raise item
        if item is _END:
            raise EOFError("stream closed by the server")
        return item

    def pending(self, timeout: float = 0.3) -> Any | None:
        """A response if one arrives within ``timeout``, else None (for "nothing was sent" checks)."""
        try:
            return self.recv(timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        self._out.put(_END)
        self._call.cancel()
        self.channel.close()

    def __enter__(self) -> AdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fetch_syncz(
    target: str, timeout: float = 5.0, credentials: grpc.ChannelCredentials | None = None
) -> list[Any]:
    """Every connected proxy's status as CSDS ``ClientConfig`` messages, over ADS (``istio.io/debug/syncz``)."""
    from envoy.service.status.v3 import csds_pb2

    from meshctl.xds import types as T

    with AdsClient(target, credentials=credentials) as c:
        req = discovery_pb2.DiscoveryRequest(type_url=T.SYNCZ)
        # An Istio-shaped node id: istiod parses it even for debug types (its plaintext port answers syncz too).
        req.node.id = "sidecar~127.0.0.1~meshctl-proxy-status.default~default.svc.cluster.local"
        c.send(req)
        try:
            resp = c.recv(timeout)
        except grpc.RpcError as e:
            raise UnavailableError(f"xDS server {target}: {e.code().name}: {e.details()}") from None
        except (TimeoutError, EOFError) as e:
            raise UnavailableError(f"xDS server {target}: {e}") from None
    out = []
    for a in resp.resources:
        cc = csds_pb2.ClientConfig()
        a.Unpack(cc)
        out.append(cc)
    return out
