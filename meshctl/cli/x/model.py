"""``meshctl x model``: show the abstract model meshctl rebuilds from config (what Pilot would know).

Services (host, namespace, ports/protocols, VIPs, resolution), workloads/proxies and their endpoints, and
which VirtualService / DestinationRule / Gateway / Sidecar applies to which host. A thin shell over
:func:`meshctl.model.build_mesh` and :func:`model_summary`.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from meshctl.cli.options import filename_option, kube_options
from meshctl.errors import UsageError


def model_summary(mesh: Any) -> dict[str, Any]:
    """The data behind the command (also what ``-o json`` prints)."""
    from meshctl.model.hosts import host_matches

    services = []
    for s in mesh.services:
        matching = [
            v for v in mesh.virtual_services if any(host_matches(h, s.hostname) for h in v.spec.hosts)
        ]
        # VIRTUAL SERVICES: those sidecars apply (bound to `mesh`); GATEWAYS: where the host is exposed
        vss = [v.key for v in matching if "mesh" in v.spec.gateways]
        gws = sorted({f"{g} ({v.key})" for v in matching for g in v.spec.gateways if g != "mesh"})
        dr = mesh.destination_rule(None, s)
        sidecars = [
            c.key
            for c in mesh.sidecars
            if any(
                (ns in ("*", s.namespace) or (ns == "." and c.namespace == s.namespace))
                and (h == "*" or host_matches(h, s.hostname))
                for e in c.spec.egress
                for ns, _, h in (x.partition("/") for x in e.hosts)
            )
        ]
        services.append(
            {
                "host": s.hostname,
                "namespace": s.namespace,
                "registry": s.registry,
                "ports": [
                    {
                        "name": p.name,
                        "port": p.port,
                        "protocol": p.protocol.value,
                        "targetPort": p.target_port,
                    }
                    for p in s.ports
                ],
                "addresses": list(s.addresses),
                "syntheticVIP": bool(s.extra.get("synthetic_vip")),
                "resolution": s.resolution.value,
                "meshExternal": s.mesh_external,
                "exportTo": sorted(s.export_to),
                "endpoints": [
                    f"{e.address}:{e.port}"
                    for e in mesh.endpoints(s)
                    if e.service_port == (s.ports[0].port if s.ports else 0)
                ],
                "virtualServices": vss,
                "destinationRule": f"{dr.configs[0].key}" if dr else None,
                "subsets": [x.name for x in dr.subsets] if dr else [],
                "gateways": gws,
                "sidecars": sidecars,
            }
        )
    proxies = {p.workload.name + "." + p.namespace: p.type.value for p in mesh.proxies()}
    workloads = [
        {
            "name": w.name,
            "namespace": w.namespace,
            "kind": w.kind,
            "ip": w.ip,
            "labels": dict(w.labels),
            "serviceAccount": w.service_account,
            "tlsMode": w.tls_mode,
            "locality": w.locality,
            "proxy": proxies.get(f"{w.name}.{w.namespace}"),
            "services": sorted({t.service.hostname for t in mesh.service_targets(w)}),
        }
        for w in mesh.workloads
    ]
    return {"services": services, "workloads": workloads}


def proxy_summary(mesh: Any, proxy: Any) -> dict[str, Any]:
    """What one proxy sees: its Sidecar scope, the DR per visible host, VirtualServices, gateway servers."""
    scope = mesh.sidecar_scope(proxy)
    hosts = []
    for s in scope.services:
        dr = mesh.destination_rule(proxy, s)
        hosts.append(
            {
                "host": s.hostname,
                "namespace": s.namespace,
                "destinationRule": dr.configs[0].key if dr else None,
                "subsets": [x.name for x in dr.subsets] if dr else [],
            }
        )
    out: dict[str, Any] = {
        "proxy": proxy.id,
        "type": proxy.type.value,
        "nodeId": proxy.node_id,
        "ip": proxy.ip,
        "sidecar": scope.config.key if scope.config else None,
        "outboundTrafficPolicy": scope.outbound_traffic_policy.mode,
        "virtualServices": [
            v.key
            for v in (
                mesh.gateway_virtual_services(proxy)
                if proxy.type.value == "router"
                else scope.virtual_services
            )
        ],
        "inbound": [
            {
                "port": t.target_port,
                "service": t.service.hostname,
                "mtls": mesh.mtls_mode(proxy.workload, t.target_port),
            }
            for t in mesh.service_targets(proxy.workload)
        ]
        if proxy.type.value == "sidecar"
        else [],
        "hosts": hosts,
    }
    mg = mesh.merged_gateway(proxy)
    if mg is not None:
        out["servers"] = [
            {
                "gateway": g.gateway.key,
                "port": g.port,
                "listenerPort": g.target_port,
                "kind": g.kind,
                "routeName": g.route_name,
                "hosts": list(g.server.hosts),
            }
            for g in mg.servers
        ]
        out["rejectedServers"] = [
            {"gateway": g.gateway.key, "port": g.port, "reason": r} for g, r in mg.rejected
        ]
    return out


def _print_proxy(data: dict[str, Any]) -> None:
    from meshctl.cli.output import print_table

    sys.stdout.write(f"Proxy {data['proxy']} ({data['type']}, {data['nodeId']})\n")
    sys.stdout.write(
        f"Sidecar: {data['sidecar'] or '(default scope)'}   outbound: {data['outboundTrafficPolicy']}\n"
    )
    sys.stdout.write(f"VirtualServices: {', '.join(data['virtualServices']) or '-'}\n\n")
    if data["inbound"]:
        print_table(
            ["INBOUND PORT", "SERVICE", "MTLS"],
            [(i["port"], i["service"], i["mtls"]) for i in data["inbound"]],
            padding=2,
        )
        sys.stdout.write("\n")
    if data.get("servers") is not None:
        print_table(
            ["GATEWAY", "PORT", "LISTENER", "KIND", "ROUTE", "HOSTS"],
            [
                (
                    g["gateway"],
                    g["port"],
                    g["listenerPort"],
                    g["kind"],
                    g["routeName"] or "-",
                    ",".join(g["hosts"]),
                )
                for g in data["servers"]
            ],
            padding=2,
        )
        for r in data["rejectedServers"]:
            sys.stdout.write(f"rejected: {r['gateway']} port {r['port']}: {r['reason']}\n")
        sys.stdout.write("\n")
    print_table(
        ["HOST", "NAMESPACE", "DESTINATION RULE", "SUBSETS"],
        [
            (h["host"], h["namespace"], h["destinationRule"] or "-", ",".join(h["subsets"]) or "-")
            for h in data["hosts"]
        ],
        padding=2,
    )


@click.command("model", context_settings={"help_option_names": ["-h", "--help"]})
@filename_option(required=False)
@click.option("-k", "--kube", "use_kube", is_flag=True, help="Read the mesh from the live cluster (-f files are layered on top).")
@kube_options
@click.option("--meshconfig", default=None, help="MeshConfig YAML (bare, or the istio ConfigMap).")
@click.option(
    "--proxy",
    "proxy_target",
    default=None,
    help="Show what one proxy sees (pod/NAME, deploy/NAME, NAME[.NS]).",
)
@click.option("-n", "--namespace", default=None, help="Namespace of --proxy.")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Choice(["table", "json", "yaml"]),
    default="table",
    show_default=True,
)
def command(
    filenames: tuple[str, ...],
    use_kube: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    meshconfig: str | None,
    proxy_target: str | None,
    namespace: str | None,
    output: str,
) -> None:
    """Show the mesh model built from -f files: services, workloads, and which config applies to which host."""
    from meshctl.cli.output import emit, print_table

    if not filenames and not use_kube:
        raise UsageError("no input: pass -f FILE|DIR|-, or -k for the live cluster")
    from meshctl.cli.inputs import mesh_from_inputs

    mesh = mesh_from_inputs(
        filenames, use_kube=use_kube, kubeconfig=kubeconfig, kube_context=kube_context, meshconfig=meshconfig
    )
    if proxy_target:
        pdata = proxy_summary(mesh, mesh.proxy(proxy_target, namespace))
        if output == "table":
            _print_proxy(pdata)
        else:
            emit(pdata, output)
        return
    data = model_summary(mesh)
    if output != "table":
        emit(data, output)
        return
    print_table(
        ["HOST", "NAMESPACE", "PORTS", "VIPS", "RESOLUTION", "ENDPOINTS"],
        [
            (
                s["host"],
                s["namespace"],
                _ports_of(s),
                ",".join(s["addresses"]) or "-",
                s["resolution"],
                len(s["endpoints"]),
            )
            for s in data["services"]
        ],
        padding=2,
    )
    sys.stdout.write("\n")
    print_table(
        ["WORKLOAD", "NAMESPACE", "KIND", "IP", "PROXY", "TLS", "SERVICES"],
        [
            (
                w["name"],
                w["namespace"],
                w["kind"],
                w["ip"],
                w["proxy"] or "-",
                w["tlsMode"],
                ",".join(w["services"]) or "-",
            )
            for w in data["workloads"]
        ],
        padding=2,
    )
    sys.stdout.write("\n")
    print_table(
        ["HOST", "VIRTUAL SERVICES", "DESTINATION RULE", "SUBSETS", "GATEWAYS", "SIDECARS"],
        [
            (
                s["host"],
                ",".join(s["virtualServices"]) or "-",
                s["destinationRule"] or "-",
                ",".join(s["subsets"]) or "-",
                ",".join(s["gateways"]) or "-",
                ",".join(s["sidecars"]) or "-",
            )
            for s in data["services"]
        ],
        padding=2,
    )


def _ports_of(s: dict[str, Any]) -> str:
    return ",".join(
        f"{p['port']}/{p['protocol']}"
        + (f"->{p['targetPort']}" if p["targetPort"] not in (None, p["port"]) else "")
        for p in s["ports"]
    )
