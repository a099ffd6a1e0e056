"""Typed checks of the Kubernetes core fields the model reads (Service, Pod and controller templates, Endpoints,
EndpointSlice, Namespace).

Why: the registry, workload and endpoint builders read these fields as plain dicts; a wrongly-typed value
(``containerPort: '*'``, ``targetPort: {}``, ``selector: [a]``) must become ``file:line: field: message``
(exit 65), like the Istio kinds, not a crash deep inside the translator. Only the subset meshctl reads is
typed; every other field is allowed as is (these are checks, the builders keep reading the raw bodies).
Scalars follow what the API server accepts (int ports 1-65535, or a quoted integer as meshctl has always
read; targetPort int or a named port; label values strings).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool, StrictStr, ValidationError

from meshctl.errors import MeshctlError
from meshctl.model.api.base import PortNumber, _port_number, strip_nulls
from meshctl.model.api.validate import errors_from_pydantic
from meshctl.sources.resource import Resource


class KubeModel(BaseModel):
    """Field names are the Kubernetes JSON names; fields meshctl does not read are ignored (not copied: cheaper)."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())


def _int_or_name(v: Any) -> Any:
    """IntOrString as a port: a number 1-65535 (or its quoted form) or a non-empty port name."""
    if isinstance(v, str) and v and not v.strip().lstrip("-").isdigit():
        return v
    try:
        return _port_number(v)
    except ValueError:
        raise ValueError("must be a port number (1-65535) or a port name") from None


IntOrName = Annotated[int | str, BeforeValidator(_int_or_name)]
Labels = dict[StrictStr, StrictStr]


class ObjectMeta(KubeModel):
    """Labels are matched against selectors, so they must be strings. Annotation values are read through
    ``str()`` (``sidecar.istio.io/inject: false`` unquoted keeps working, as it always has in meshctl)."""

    labels: Labels | None = None
    annotations: dict[StrictStr, Any] | None = None


class ServicePort(KubeModel):
    port: PortNumber
    targetPort: IntOrName | None = None
    name: StrictStr | None = None
    protocol: StrictStr | None = None  # the API server allows TCP/UDP/SCTP; Istio test data also uses HTTP
    appProtocol: StrictStr | None = None


class ServiceSpec(KubeModel):
    ports: list[ServicePort] | None = None
    selector: Labels | None = None
    clusterIP: StrictStr | None = None
    clusterIPs: list[StrictStr] | None = None
    type: Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] | None = None
    externalName: StrictStr | None = None
    publishNotReadyAddresses: StrictBool | None = None


class Service(KubeModel):
    metadata: ObjectMeta | None = None
    spec: ServiceSpec | None = None


class ContainerPort(KubeModel):
    containerPort: PortNumber
    name: StrictStr | None = None
    protocol: StrictStr | None = None  # the API server allows TCP/UDP/SCTP; Istio test data also uses HTTP


class Container(KubeModel):
    ports: list[ContainerPort] | None = None


class PodSpec(KubeModel):
    containers: list[Container] | None = None
    initContainers: list[Container] | None = None
    serviceAccountName: StrictStr | None = None
    serviceAccount: StrictStr | None = None


class PodCondition(KubeModel):
    type: StrictStr | None = None
    status: StrictStr | None = None


class PodStatus(KubeModel):
    podIP: StrictStr | None = None
    phase: StrictStr | None = None
    conditions: list[PodCondition] | None = None


class Pod(KubeModel):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None
    status: PodStatus | None = None


class PodTemplate(KubeModel):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None


class LabelSelector(KubeModel):
    matchLabels: Labels | None = None


class ControllerSpec(KubeModel):
    selector: LabelSelector | None = None
    template: PodTemplate | None = None


class Controller(KubeModel):
    metadata: ObjectMeta | None = None
    spec: ControllerSpec | None = None


class ObjectReference(KubeModel):
    name: StrictStr | None = None
    namespace: StrictStr | None = None


class EndpointAddress(KubeModel):
    ip: StrictStr
    targetRef: ObjectReference | None = None


class EndpointPort(KubeModel):
    port: PortNumber
    name: StrictStr | None = None


class EndpointSubset(KubeModel):
    addresses: list[EndpointAddress] | None = None
    notReadyAddresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(KubeModel):
    metadata: ObjectMeta | None = None
    subsets: list[EndpointSubset] | None = None


class EndpointConditions(KubeModel):
    ready: StrictBool | None = None


class SliceEndpoint(KubeModel):
    addresses: list[StrictStr]
    conditions: EndpointConditions | None = None
    targetRef: ObjectReference | None = None
    zone: StrictStr | None = None


class SlicePort(KubeModel):
    port: PortNumber | None = None
    name: StrictStr | None = None


class EndpointSlice(KubeModel):
    metadata: ObjectMeta | None = None
    endpoints: list[SliceEndpoint] | None = None
    ports: list[SlicePort] | None = None


class Namespace(KubeModel):
    metadata: ObjectMeta | None = None


#: (API group, kind) -> model of the fields the model reads
KUBE_KINDS: dict[tuple[str, str], type[KubeModel]] = {
    ("", "Service"): Service,
    ("", "Pod"): Pod,
    ("", "Endpoints"): Endpoints,
    ("", "Namespace"): Namespace,
    ("discovery.k8s.io", "EndpointSlice"): EndpointSlice,
    **{
        (g, k): Controller
        for g in ("apps", "")
        for k in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController")
    },
}

_CHECKED = "kube_checked"


def kube_model(resource: Resource) -> type[KubeModel] | None:
    """The check model for ``resource``, or None when the model does not read this kind."""
    return KUBE_KINDS.get((resource.group, resource.kind))


def check_kube(resource: Resource) -> None:
    """Raise InputError/ErrorList (file, line, field path) when a field the model reads has the wrong type."""
    model = kube_model(resource)
    if model is None or resource.extra.get(_CHECKED):
        return
    try:
        model.model_validate(resource.obj)
    except ValidationError:
        data = strip_nulls(resource.obj)  # `selector:` with nothing after it is unset, as for the API server
        try:
            model.model_validate(data)
        except ValidationError as exc:
            err: MeshctlError = errors_from_pydantic(exc, resource, prefix="", data=resource.obj)
            raise err from None
    resource.extra[_CHECKED] = True


__all__ = ["KUBE_KINDS", "check_kube", "kube_model"]
