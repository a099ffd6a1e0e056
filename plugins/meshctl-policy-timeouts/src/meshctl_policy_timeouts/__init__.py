"""Example meshctl analyzer plugin: every VirtualService HTTP route that forwards traffic sets a timeout.

It shows the whole plugin API: declare a code with ``register_message``, subclass ``Analyzer``, read
resources from the context and ``ctx.report`` findings with a field path (so file:line points at the route).
"""

from __future__ import annotations

from meshctl.analyze import AnalysisContext, Analyzer, register_message

register_message(
    "POL0001",
    "RouteWithoutTimeout",
    "Warning",
    "HTTP route %s of VirtualService %s forwards traffic without a timeout.",
    description="Team policy: every forwarding HTTP route sets spec.http[].timeout explicitly.",
)


class RouteTimeoutAnalyzer(Analyzer):
    name = "policy.RouteTimeoutAnalyzer"
    description = "Every VirtualService HTTP route that forwards traffic must set a timeout"
    codes = ("POL0001",)

    def analyze(self, ctx: AnalysisContext) -> None:
        # valid_istio: resources that pass schema validation (an invalid one is reported once, as IST0106)
        for vs in ctx.valid_istio("VirtualService"):
            rules = vs.spec.get("http")
            for i, rule in enumerate(rules if isinstance(rules, list) else []):
                if not isinstance(rule, dict) or not rule.get("route"):
                    continue  # redirect / directResponse / delegate: nothing is forwarded
                if not rule.get("timeout"):
                    label = f'"{rule["name"]}"' if rule.get("name") else f"#{i}"
                    ctx.report("POL0001", vs, label, vs.full_name, path=f"spec.http[{i}]")
