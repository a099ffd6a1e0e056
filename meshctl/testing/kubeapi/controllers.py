"""Tiny stand-ins for the kube-controller-manager, so an emulated cluster looks like a running one.

Deployments get a ReplicaSet and ``replicas`` Running Pods (StatefulSets ``name-0..n-1``, DaemonSets one per
node), each with a pod IP from 10.244.0.0/16; Pods in namespaces labelled for Istio injection get an
``istio-proxy`` container and the ``sidecar.istio.io/status`` annotation, as the injector would add. Services
with a selector get an EndpointSlice and an Endpoints object listing their ready Pods. Everything happens
synchronously on each write, so a test sees a consistent cluster right after ``apply``. Opt-in
(``KubeEmulator(controllers=True)``; on by default in ``meshctl x kube-emulator``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from meshctl.testing.kubeapi.store import ApiError, Event, Store, now_rfc3339

_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.SafeEncodeString alphabet
NODE = "emulator-node"
HOST_IP = "172.18.0.2"
SIDECAR_STATUS = json.dumps({"containers": ["istio-proxy"], "initContainers": ["istio-init"], "volumes": ["istio-envoy"]})


def _hash(text: str, n: int) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:n])


def injected(ns_labels: dict[str, str], pod_labels: dict[str, str], pod_annotations: dict[str, str]) -> bool:
    flag = str(pod_annotations.get("sidecar.istio.io/inject", pod_labels.get("sidecar.istio.io/inject", ""))).lower()
    if flag == "false":
        return False
    if flag == "true":
        return ns_labels.get("istio-injection") != "disabled"
    return ns_labels.get("istio-injection") == "enabled" or "istio.io/rev" in ns_labels


class Controllers:
    """Reconciles workloads -> pods and services -> endpoints after each store write."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._busy = False
        self._next_ip = 0
        store.on_write = self.on_write
        node_t = store.types[("", "nodes")]
        if ("", NODE) not in store.objects[node_t.key]:
            store.create(node_t, None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
                                        "status": {"addresses": [{"type": "InternalIP", "address": HOST_IP}],
                                                   "conditions": [{"type": "Ready", "status": "True"}]}})

    def t(self, group: str, plural: str) -> Any:
        return self.store.types[(group, plural)]

    # --- entry points ----------------------------------------------------------------------------------------
    def on_write(self, ev: Event) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            group, plural = ev.tkey
            ns = ev.okey[0]
            if (group, plural) in (("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets")):
                self.reconcile_workload(plural, ev.obj, deleted=ev.type == "DELETED")
                self.reconcile_services(ns)
            elif (group, plural) == ("", "services"):
                self.reconcile_service(ev.obj, deleted=ev.type == "DELETED")
            elif (group, plural) == ("", "pods"):
                self.reconcile_services(ns)
            elif (group, plural) == ("", "namespaces") and ev.type != "DELETED":
                for plural2 in ("deployments", "statefulsets", "daemonsets"):
                    for o in self.store.list(self.t("apps", plural2), ev.okey[1])[0]:
                        self.reconcile_workload(plural2, o, deleted=False)
                self.reconcile_services(ev.okey[1])
        finally:
            self._busy = False

    def reconcile_all(self) -> None:
        with self.store.lock:
            self._busy = True
            try:
                for plural in ("deployments", "statefulsets", "daemonsets"):
                    for o in self.store.list(self.t("apps", plural), None)[0]:
                        self.reconcile_workload(plural, o, deleted=False)
                for svc in self.store.list(self.t("", "services"), None)[0]:
                    self.reconcile_service(svc, deleted=False)
            finally:
                self._busy = False

    # --- workloads -> pods -----------------------------------------------------------------------------------
    def _owned(self, ns: str, owner_kind: str, owner_names: set[str]) -> list[dict[str, Any]]:
        out = []
        for p in self.store.list(self.t("", "pods"), ns)[0]:
            for ref in p["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == owner_kind and ref.get("name") in owner_names:
                    out.append(p)
        return out

    def reconcile_workload(self, plural: str, obj: dict[str, Any], *, deleted: bool) -> None:
        md, spec = obj["metadata"], obj.get("spec") or {}
        ns, name = md.get("namespace", ""), md["name"]
        template = spec.get("template") or {}
        rs_t = self.t("apps", "replicasets")
        if plural == "deployments":
            rs_name = f"{name}-{_hash(json.dumps(template, sort_keys=True), 10)}"
            old_rs = [r for r in self.store.list(rs_t, ns)[0]
                      if any(o.get("name") == name and o.get("kind") == "Deployment" for o in r["metadata"].get("ownerReferences") or [])]
            for r in old_rs:
                if deleted or r["metadata"]["name"] != rs_name:
                    for p in self._owned(ns, "ReplicaSet", {r["metadata"]["name"]}):
                        self._delete(self.t("", "pods"), ns, p["metadata"]["name"])
                    self._delete(rs_t, ns, r["metadata"]["name"])
            if deleted:
                return
            owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name, "controller": True}
            if not any(r["metadata"]["name"] == rs_name for r in old_rs):
                rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                      "metadata": {"name": rs_name, "namespace": ns, "labels": dict((template.get("metadata") or {}).get("labels") or {},
                                                                                    **{"pod-template-hash": rs_name.rsplit("-", 1)[1]}),
                                   "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": md.get("uid"), "controller": True}]},
                      "spec": {"replicas": spec.get("replicas", 1), "selector": spec.get("selector"), "template": template}}
                self.store.create(rs_t, ns, rs)
            owner["uid"] = self.store.get(rs_t, ns, rs_name)["metadata"]["uid"]
            extra_labels = {"pod-template-hash": rs_name.rsplit("-", 1)[1]}
            names = [f"{rs_name}-{_hash(f'{rs_name}/{i}', 5)}" for i in range(int(spec.get("replicas", 1)))]
            owner_kind, owner_names = "ReplicaSet", {rs_name}
        else:
            kind = "StatefulSet" if plural == "statefulsets" else "DaemonSet"
            if deleted:
                for p in self._owned(ns, kind, {name}):
                    self._delete(self.t("", "pods"), ns, p["metadata"]["name"])
                return
            owner = {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": md.get("uid"), "controller": True}
            rev = f"{name}-{_hash(json.dumps(template, sort_keys=True), 10)}"
            extra_labels = {"controller-revision-hash": rev}
            if kind == "StatefulSet":
                names = [f"{name}-{i}" for i in range(int(spec.get("replicas", 1)))]
            else:
                names = [f"{name}-{_hash(name + NODE, 5)}"]
            owner_kind, owner_names = kind, {name}
        existing = {p["metadata"]["name"]: p for p in self._owned(ns, owner_kind, owner_names)}
        for pname in names:
            labels = dict(extra_labels)
            if plural == "statefulsets":
                labels["statefulset.kubernetes.io/pod-name"] = pname
            want = self._pod(ns, pname, template, labels, owner)
            cur = existing.pop(pname, None)
            if cur is None:
                self.store.create(self.t("", "pods"), ns, want)
            elif cur.get("spec") != want["spec"] or cur["metadata"].get("labels") != want["metadata"]["labels"]:
                want["status"] = cur.get("status")
                self.store.update(self.t("", "pods"), ns, pname, dict(want, metadata=dict(cur["metadata"], labels=want["metadata"]["labels"],
                                                                                            annotations=want["metadata"]["annotations"])))
        for pname in existing:
            self._delete(self.t("", "pods"), ns, pname)
        n = len(names)
        status = {"observedGeneration": md.get("generation", 1), "replicas": n, "readyReplicas": n, "availableReplicas": n,
                  "updatedReplicas": n, "currentReplicas": n}
        if plural == "daemonsets":
            status = {"desiredNumberScheduled": n, "currentNumberScheduled": n, "numberReady": n, "numberAvailable": n}
        cur_obj = self.store.get(self.t("apps", plural), ns, name)
        if cur_obj.get("status") != status:
            self.store.update(self.t("apps", plural), ns, name, dict(cur_obj, status=status), subresource="status")

    def _pod(self, ns: str, name: str, template: dict[str, Any], extra_labels: dict[str, str], owner: dict[str, Any]) -> dict[str, Any]:
        tmd = template.get("metadata") or {}
        labels = dict(tmd.get("labels") or {}, **extra_labels)
        annotations = dict(tmd.get("annotations") or {})
        spec = copy.deepcopy(template.get("spec") or {})
        spec.setdefault("containers", [])
        spec.setdefault("serviceAccountName", "default")
        spec["nodeName"] = NODE
        try:
            ns_labels = self.store.get(self.t("", "namespaces"), None, ns)["metadata"].get("labels") or {}
        except ApiError:
            ns_labels = {}
        if injected(ns_labels, labels, annotations) and not any(c.get("name") == "istio-proxy" for c in spec["containers"]):
            spec["containers"].append({"name": "istio-proxy", "image": "docker.io/istio/proxyv2",
                                       "args": ["proxy", "sidecar"],
                                       "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}]})
            annotations["sidecar.istio.io/status"] = SIDECAR_STATUS
            labels.setdefault("security.istio.io/tlsMode", "istio")
            labels.setdefault("service.istio.io/canonical-name", labels.get("app", name))
            labels.setdefault("service.istio.io/canonical-revision", labels.get("version", "latest"))
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations, "ownerReferences": [owner]},
                "spec": spec,
                "status": {"phase": "Running", "podIP": self._ip(), "hostIP": HOST_IP,
                           "conditions": [{"type": "Ready", "status": "True"}],
                           "containerStatuses": [{"name": c.get("name"), "ready": True, "started": True, "restartCount": 0,
                                                  "image": c.get("image", ""), "imageID": "",
                                                  "state": {"running": {"startedAt": now_rfc3339()}}}
                                                 for c in spec["containers"]]}}

    def _ip(self) -> str:
        self._next_ip += 1
        return f"10.244.{self._next_ip // 254}.{self._next_ip % 254 + 1}"

    def _delete(self, rt: Any, ns: str, name: str) -> None:
        try:
            self.store.delete(rt, ns, name)
        except ApiError:
            pass

    # --- services -> endpoints -----------------------------------------------------------------------------------
    def reconcile_services(self, ns: str) -> None:
        for svc in self.store.list(self.t("", "services"), ns)[0]:
            self.reconcile_service(svc, deleted=False)

    def reconcile_service(self, svc: dict[str, Any], *, deleted: bool) -> None:
        md, spec = svc["metadata"], svc.get("spec") or {}
        ns, name = md.get("namespace", ""), md["name"]
        slice_t, ep_t = self.t("discovery.k8s.io", "endpointslices"), self.t("", "endpoints")
        slice_name = f"{name}-{_hash(name, 5)}"
        selector = spec.get("selector")
        if deleted or not selector:
            if deleted:
                self._delete(slice_t, ns, slice_name)
                self._delete(ep_t, ns, name)
            return
        pods = [p for p in self.store.list(self.t("", "pods"), ns)[0]
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
                and (p.get("status") or {}).get("podIP") and (p.get("status") or {}).get("phase") == "Running"]
        ports = []
        for sp in spec.get("ports") or []:
            target = sp.get("targetPort", sp.get("port"))
            if isinstance(target, str):
                target = next((cp.get("containerPort") for p in pods for c in p["spec"].get("containers") or []
                               for cp in c.get("ports") or [] if cp.get("name") == target), None)
            if target is None:
                continue
            port = {"port": int(target), "protocol": sp.get("protocol", "TCP")}
            if sp.get("name"):
                port["name"] = sp["name"]
            if sp.get("appProtocol"):
                port["appProtocol"] = sp["appProtocol"]
            ports.append(port)
        refs = [{"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns, "uid": p["metadata"].get("uid")} for p in pods]
        endpoints = [{"addresses": [p["status"]["podIP"]], "conditions": {"ready": True, "serving": True, "terminating": False},
                      "targetRef": ref, "nodeName": NODE} for p, ref in zip(pods, refs, strict=True)]
        eslice = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                  "metadata": {"name": slice_name, "namespace": ns,
                               "labels": {"kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                               "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name, "uid": md.get("uid"), "controller": True}]},
                  "addressType": "IPv4", "endpoints": endpoints, "ports": ports}
        subsets = [{"addresses": [{"ip": p["status"]["podIP"], "nodeName": NODE, "targetRef": ref} for p, ref in zip(pods, refs, strict=True)],
                    "ports": ports}] if pods else []
        eps = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns, "labels": dict(md.get("labels") or {})},
               "subsets": subsets}
        pairs: list[tuple[Any, dict[str, Any], tuple[str, ...]]] = [(slice_t, eslice, ("endpoints", "ports")), (ep_t, eps, ("subsets",))]
        for rt, obj, keys in pairs:
            try:
                cur = self.store.get(rt, ns, obj["metadata"]["name"])
            except ApiError:
                self.store.create(rt, ns, obj)
                continue
            if any(cur.get(k) != obj.get(k) for k in keys):
                self.store.update(rt, ns, obj["metadata"]["name"], dict(cur, **{k: obj[k] for k in keys}))
