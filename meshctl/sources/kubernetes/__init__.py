"""Live Kubernetes source: kubeconfig auth, discovery, list+watch informer cache, port-forward.

* :func:`load_cluster` -- one-shot load for ``analyze -k`` / ``translate -k`` (a list of Resource);
* :class:`ClusterSource` -- list then watch, with :class:`ResourceEvent` callbacks/iterator for incremental consumers;
* :func:`open_admin` / :func:`open_istiod` / :func:`istiod_debug` -- port-forward through the API server.

See docs/kubernetes.md.
"""

from meshctl.sources.kubernetes.client import KubeClient
from meshctl.sources.kubernetes.errors import (
    EXIT_NOPERM,
    KubeApiError,
    KubeAuthError,
    KubeConfigError,
    KubeError,
    KubeForbiddenError,
    KubeUnreachableError,
    Missing,
)
from meshctl.sources.kubernetes.informer import (
    ADDED,
    DELETED,
    MODIFIED,
    ClusterSource,
    ResourceEvent,
    resource_file,
    to_resource,
)
from meshctl.sources.kubernetes.kinds import WANTED, Kind, Want, discover
from meshctl.sources.kubernetes.loader import ClusterResources, load_cluster
from meshctl.sources.kubernetes.portforward import (
    ENVOY_ADMIN_PORT,
    ISTIOD_DEBUG_PORT,
    PortForward,
    find_istiod,
    istiod_debug,
    open_admin,
    open_istiod,
    open_port_forward,
    port_forward,
)

__all__ = [
    "ADDED", "DELETED", "ENVOY_ADMIN_PORT", "EXIT_NOPERM", "ISTIOD_DEBUG_PORT", "MODIFIED", "WANTED",
    "ClusterResources", "ClusterSource", "Kind", "KubeApiError", "KubeAuthError", "KubeClient", "KubeConfigError",
    "KubeError", "KubeForbiddenError", "KubeUnreachableError", "Missing", "PortForward", "ResourceEvent", "Want",
    "discover", "find_istiod", "istiod_debug", "load_cluster", "open_admin", "open_istiod", "open_port_forward",
    "port_forward", "resource_file", "to_resource",
]
