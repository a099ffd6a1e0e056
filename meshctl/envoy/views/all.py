"""``proxy-config all``: every summary in one go, sections as istioctl prints them."""

from __future__ import annotations

from dataclasses import dataclass

from meshctl.cli.output import format_table
from meshctl.envoy.dump import ConfigDump
from meshctl.envoy.views import bootstrap, cluster, eds, listener, route, secret
from meshctl.envoy.views.common import Table


@dataclass
class AllFilters:
    fqdn: str = ""
    port: int = 0
    subset: str = ""
    direction: str = ""
    address: str = ""
    type: str = ""
    name: str = ""


def _fmt(t: Table) -> str:
    return format_table(t.headers, t.rows, minwidth=t.minwidth, tabwidth=t.tabwidth, padding=t.padding)


def summary(
    dump: ConfigDump, flt: AllFilters | None = None, *, verbose: bool = True, with_headers: bool = False
) -> str:
    """Bootstrap, clusters, listeners, routes, secrets, endpoints; sections the dump lacks are left out."""
    flt = flt or AllFilters()
    parts: list[tuple[str, str]] = []
    if dump.bootstrap_raw is not None:
        parts.append(("BOOTSTRAP", bootstrap.summary(dump)))
    if "cluster" in dump.sections:
        parts.append(
            (
                "CLUSTER",
                _fmt(
                    cluster.table(
                        dump,
                        cluster.ClusterFilter(flt.fqdn, flt.port, flt.subset, flt.direction),
                        with_name=True,
                    )
                ),
            )
        )
    if "listener" in dump.sections:
        lf = listener.ListenerFilter(flt.address, flt.port, flt.type)
        parts.append(("LISTENER", _fmt(listener.table(dump, lf, verbose=verbose, with_name=True))))
    if "route" in dump.sections:
        parts.append(
            ("ROUTE", _fmt(route.table(dump, route.RouteFilter(flt.name), verbose=verbose, with_name=True)))
        )
    if "secret" in dump.sections:
        t = secret.table(dump, with_name=True)
        parts.append(("SECRET", _fmt(t) if t else "No active or warming secrets found.\n"))
    if "endpoint" in dump.sections:
        parts.append(("ENDPOINTS", _fmt(eds.table(dump, with_name=True))))
    out = []
    for title, text in parts:
        if with_headers:
            out.append(f"------ {title} INFO ------\n\n")
        out.append(text)
        out.append("\n")
    return "".join(out)
