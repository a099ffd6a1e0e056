"""Server-side printing: ``meta.k8s.io/v1`` Table responses, which ``kubectl get`` asks for and prints as is.

Built-in kinds get the columns kubectl users know (pods: READY/STATUS/RESTARTS, services: TYPE/CLUSTER-IP/...),
custom resources their CRD's ``additionalPrinterColumns``; every table starts with NAME and ends with AGE.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from typing import Any

from meshctl.testing.kubeapi.selectors import field_value
from meshctl.testing.kubeapi.types import ResourceType


def human_duration(ts: str | None) -> str:
    """kubectl's HumanDuration of the time since ``ts`` ("45s", "12m", "3h", "5d")."""
    if not ts:
        return "<unknown>"
    try:
        t = _dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.UTC)
    except ValueError:
        return "<invalid>"
    s = int((_dt.datetime.now(_dt.UTC) - t).total_seconds())
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 48:
        return f"{h}h"
    return f"{h // 24}d"


def _cell(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    return v


def _svc_ports(o: dict[str, Any]) -> str:
    ports = (o.get("spec") or {}).get("ports") or []
    out = []
    for p in ports:
        s = str(p.get("port"))
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        out.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _pod_ready(o: dict[str, Any]) -> str:
    cs = (o.get("status") or {}).get("containerStatuses") or []
    total = len((o.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for c in cs if c.get('ready'))}/{total}"


def _pod_restarts(o: dict[str, Any]) -> int:
    return sum(int(c.get("restartCount", 0)) for c in (o.get("status") or {}).get("containerStatuses") or [])


def _endpoints(o: dict[str, Any]) -> str:
    addrs = []
    for sub in o.get("subsets") or []:
        for a in sub.get("addresses") or []:
            for p in sub.get("ports") or [{}]:
                addrs.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else str(a.get("ip")))
    return ",".join(addrs) or "<none>"


def _slice_endpoints(o: dict[str, Any]) -> str:
    addrs = [a for e in o.get("endpoints") or [] for a in e.get("addresses") or []]
    if not addrs:
        return "<unset>"
    return ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")


def _replicas(o: dict[str, Any]) -> str:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    return f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"


#: (name, type, priority, getter) columns between NAME and AGE for built-in kinds.
BUILTIN_COLUMNS: dict[tuple[str, str], list[tuple[str, str, int, Callable[[dict[str, Any]], Any]]]] = {
    ("", "pods"): [
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, lambda o: (o.get("status") or {}).get("phase", "Pending")),
        ("Restarts", "string", 0, _pod_restarts),
        ("IP", "string", 1, lambda o: (o.get("status") or {}).get("podIP") or "<none>"),
        ("Node", "string", 1, lambda o: (o.get("spec") or {}).get("nodeName") or "<none>"),
    ],
    ("", "services"): [
        ("Type", "string", 0, lambda o: (o.get("spec") or {}).get("type", "ClusterIP")),
        ("Cluster-IP", "string", 0, lambda o: (o.get("spec") or {}).get("clusterIP") or "<none>"),
        ("External-IP", "string", 0, lambda o: ",".join((o.get("spec") or {}).get("externalIPs") or []) or "<none>"),
        ("Port(s)", "string", 0, _svc_ports),
        ("Selector", "string", 1, lambda o: ",".join(f"{k}={v}" for k, v in sorted(((o.get("spec") or {}).get("selector") or {}).items())) or "<none>"),
    ],
    ("", "endpoints"): [("Endpoints", "string", 0, _endpoints)],
    ("", "configmaps"): [("Data", "integer", 0, lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))],
    ("", "secrets"): [
        ("Type", "string", 0, lambda o: o.get("type", "Opaque")),
        ("Data", "integer", 0, lambda o: len(o.get("data") or {})),
    ],
    ("", "serviceaccounts"): [("Secrets", "integer", 0, lambda o: len(o.get("secrets") or []))],
    ("", "nodes"): [
        ("Status", "string", 0, lambda o: "Ready" if any(c.get("type") == "Ready" and c.get("status") == "True"
                                                          for c in (o.get("status") or {}).get("conditions") or []) else "NotReady"),
        ("Roles", "string", 0, lambda o: "<none>"),
    ],
    ("", "namespaces"): [("Status", "string", 0, lambda o: (o.get("status") or {}).get("phase", "Active"))],
    ("apps", "deployments"): [
        ("Ready", "string", 0, _replicas),
        ("Up-to-date", "integer", 0, lambda o: (o.get("status") or {}).get("updatedReplicas", 0)),
        ("Available", "integer", 0, lambda o: (o.get("status") or {}).get("availableReplicas", 0)),
    ],
    ("apps", "statefulsets"): [("Ready", "string", 0, _replicas)],
    ("apps", "replicasets"): [
        ("Desired", "integer", 0, lambda o: (o.get("spec") or {}).get("replicas", 1)),
        ("Current", "integer", 0, lambda o: (o.get("status") or {}).get("replicas", 0)),
        ("Ready", "integer", 0, lambda o: (o.get("status") or {}).get("readyReplicas", 0)),
    ],
    ("discovery.k8s.io", "endpointslices"): [
        ("AddressType", "string", 0, lambda o: o.get("addressType", "")),
        ("Ports", "string", 0, lambda o: ",".join(str(p.get("port")) for p in o.get("ports") or []) or "<unset>"),
        ("Endpoints", "string", 0, lambda o: _slice_endpoints(o)),
    ],
    ("apiextensions.k8s.io", "customresourcedefinitions"): [
        ("Created At", "date", 0, lambda o: o["metadata"].get("creationTimestamp")),
    ],
}


def column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    """NAME, the kind's columns, AGE; for built-in kinds wide-only columns (priority 1) follow AGE, as kubectl shows."""
    name = {"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}
    age = {"name": "Age", "type": "date", "format": "", "description": "CreationTimestamp", "priority": 0}
    if rt.key in BUILTIN_COLUMNS:
        specs = BUILTIN_COLUMNS[rt.key]
        main = [{"name": n, "type": t, "format": "", "description": "", "priority": p} for n, t, p, _ in specs if p == 0]
        wide = [{"name": n, "type": t, "format": "", "description": "", "priority": p} for n, t, p, _ in specs if p > 0]
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            return [name, *main, *wide]
        return [name, *main, age, *wide]
    extra = [{"name": c.name, "type": c.type, "format": c.format, "description": c.description, "priority": c.priority} for c in rt.columns]
    return [name, *extra, age]


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def row(rt: ResourceType, obj: dict[str, Any], include: str = "Metadata") -> dict[str, Any]:
    md = obj.get("metadata") or {}
    age = human_duration(md.get("creationTimestamp"))
    cells: list[Any] = [md.get("name")]
    if rt.key in BUILTIN_COLUMNS:
        cols = BUILTIN_COLUMNS[rt.key]
        cells += [_cell(get(obj)) for _, _, p, get in cols if p == 0]
        if rt.key != ("apiextensions.k8s.io", "customresourcedefinitions"):
            cells.append(age)
        cells += [_cell(get(obj)) for _, _, p, get in cols if p > 0]
    else:
        for c in rt.columns:
            v = field_value(obj, c.path.lstrip(".")) if c.path else None
            cells.append(human_duration(v) if c.type == "date" and isinstance(v, str) else _cell(v))
        cells.append(age)
    r: dict[str, Any] = {"cells": cells}
    if include == "Object":
        r["object"] = obj
    elif include != "None":
        r["object"] = partial_metadata(obj)
    return r


def table(rt: ResourceType, objs: list[dict[str, Any]], *, include: str = "Metadata", with_columns: bool = True,
          resource_version: str = "", cont: str = "") -> dict[str, Any]:
    md: dict[str, Any] = {"resourceVersion": resource_version}
    if cont:
        md["continue"] = cont
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": md,
        "columnDefinitions": column_definitions(rt) if with_columns else [],
        "rows": [row(rt, o, include) for o in objs],
    }
