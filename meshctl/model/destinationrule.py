"""DestinationRule index: per-namespace merge and Pilot's lookup order for a (proxy, service) pair.

Merge (``pilot/pkg/model/destination_rule.go``): DRs for the same host in one namespace with the same
(or no) workload selector are consolidated in creation order: subsets concatenated (duplicate names
dropped), the first non-empty top-level ``trafficPolicy`` wins. Lookup (``push_context.go``): proxy
namespace, then the service's namespace, then the root namespace, honouring exportTo; the most specific
host wins inside a namespace; a DR whose ``workloadSelector`` matches the proxy beats one without.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from meshctl.model.api import DestinationRule, Subset
from meshctl.model.config import Config
from meshctl.model.hosts import export_visible, labels_match, most_specific_match, resolve_shortname
from meshctl.model.types import ConfigRef, Service


@dataclass(eq=False)
class MergedDestinationRule:
    """The consolidated DRs for one host in one namespace (and one selector)."""

    host: str
    namespace: str
    selector: dict[str, str] | None
    configs: list[Config[DestinationRule]] = field(default_factory=list)
    spec: DestinationRule | None = None
    #: subset name -> the DR that defined it (for blame)
    subset_origin: dict[str, Config[DestinationRule]] = field(default_factory=dict)
    export_to: set[str] = field(default_factory=set)

    @property
    def ref(self) -> ConfigRef:
        return self.configs[0].ref

    @property
    def subsets(self) -> list[Subset]:
        return list(self.spec.subsets) if self.spec else []

    def subset(self, name: str) -> Subset | None:
        return next((s for s in self.subsets if s.name == name), None)

    def add(self, cfg: Config[DestinationRule]) -> None:
        dr = cfg.spec
        self.configs.append(cfg)
        if not self.export_to:  # Istio keeps the first rule's exportTo for the host
            self.export_to = set(cfg.export_to)
        if self.spec is None:
            self.spec = dr.model_copy(deep=False)
            self.spec.host = self.host
            self.spec.subsets = list(dr.subsets)
            for s in dr.subsets:
                self.subset_origin.setdefault(s.name, cfg)
            return
        if self.spec.traffic_policy is None and dr.traffic_policy is not None:
            self.spec.traffic_policy = dr.traffic_policy
        names = {s.name for s in self.spec.subsets}
        for s in dr.subsets:
            if s.name not in names:
                self.spec.subsets.append(s)
                names.add(s.name)
                self.subset_origin[s.name] = cfg

    def visible_to(self, namespace: str) -> bool:
        return export_visible(self.export_to, self.namespace, namespace)


class DestinationRuleIndex:
    def __init__(
        self,
        configs: list[Config[DestinationRule]],
        root_namespace: str,
        default_export_to: tuple[str, ...] = ("*",),
    ) -> None:
        del default_export_to  # carried by each Config (Config.export_to)
        self.root_namespace = root_namespace
        self._wild: dict[str, list[str]] = {}
        # ns -> host -> [merged per selector]
        self.by_ns: dict[str, dict[str, list[MergedDestinationRule]]] = defaultdict(dict)
        for cfg in configs:  # already in precedence order
            host = resolve_shortname(cfg.spec.host, cfg.namespace)
            sel = dict(cfg.spec.workload_selector.match_labels) if cfg.spec.workload_selector else None
            groups = self.by_ns[cfg.namespace].setdefault(host, [])
            # Istio's mergeDestinationRule: merge into every entry whose selector does not contradict; keep the
            # incoming rule as its own entry unless both have no selector or both have the same one
            add_new = True
            for g in groups:
                both_with = g.selector is not None and sel is not None
                selectors_match = (g.selector or {}) == (sel or {})
                if both_with and not selectors_match:
                    continue
                if (g.selector is None and sel is None) or (sel is not None and selectors_match):
                    add_new = False
                g.add(cfg)
            if add_new:
                g = MergedDestinationRule(host=host, namespace=cfg.namespace, selector=sel)
                g.add(cfg)
                groups.append(g)

    def _in_ns(self, ns: str, hostname: str, proxy_ns: str) -> list[MergedDestinationRule]:
        """The DR entries of ``ns`` for ``hostname`` a proxy in ``proxy_ns`` may use (all of its own namespace's)."""
        hosts = self.by_ns.get(ns)
        if not hosts:
            return []
        if hostname in hosts:
            h: str | None = hostname
        else:
            h = most_specific_match(hostname, self._wildcards(ns))
            if h is None:
                return []
        return [g for g in hosts[h or ""] if ns == proxy_ns or g.visible_to(proxy_ns)]

    def _wildcards(self, ns: str) -> list[str]:
        w = self._wild.get(ns)
        if w is None:
            w = self._wild[ns] = [h for h in self.by_ns.get(ns, {}) if h.startswith("*")]
        return w

    def lookup(
        self, proxy_ns: str, proxy_labels: dict[str, str], service: Service, *, inbound: bool = False
    ) -> MergedDestinationRule | None:
        """The DR that applies to ``service`` for a proxy in ``proxy_ns`` with ``proxy_labels``.

        The first namespace (proxy's, service's, root) holding any applicable entry for the host decides, even when
        none of its entries fits the proxy (Istio does not fall through). Selector DRs apply to outbound only."""
        for ns in dict.fromkeys((proxy_ns, service.namespace, self.root_namespace)):
            entries = self._in_ns(ns, service.hostname, proxy_ns)
            if not entries:
                continue
            catch_all = None
            for g in entries:
                if g.selector is None:
                    catch_all = g
                elif not inbound and ns == proxy_ns and labels_match(g.selector, proxy_labels):
                    return g
            return catch_all
        return None

    def all(self) -> list[MergedDestinationRule]:
        return [g for hosts in self.by_ns.values() for groups in hosts.values() for g in groups]
