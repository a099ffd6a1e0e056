"""``meshctl proxy-config`` (alias ``pc``): what a proxy actually has, istioctl-compatible, plus ``diff``.

Every subcommand reads one target: ``--admin URL`` (a live Envoy admin), ``--file DUMP`` (a saved
``/config_dump``; ``-`` for stdin) or a pod (``pod/NAME -n NS`` / ``NAME.NS``, through a port-forward). Tables
are istioctl's (same columns, values and order); ``-o json|yaml`` prints the protos as istioctl does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from meshctl.cli.output import print_table
from meshctl.envoy.admin import DEFAULT_ADMIN_PORT, Target
from meshctl.envoy.dump import ConfigDump
from meshctl.envoy.views.common import Table, go_json, go_jsonpb, go_yaml, messages_json
from meshctl.errors import UsageError

SUBCOMMAND_ALIASES = {
    "clusters": "cluster",
    "c": "cluster",
    "listeners": "listener",
    "l": "listener",
    "routes": "route",
    "r": "route",
    "endpoints": "endpoint",
    "ep": "endpoint",
    "secrets": "secret",
    "s": "secret",
    "b": "bootstrap",
    "a": "all",
    "o": "log",
    "ec": "ecds",
    "rc": "rootca-compare",
}


class AliasGroup(click.Group):
    """A click group that also accepts istioctl's short subcommand names."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, SUBCOMMAND_ALIASES.get(cmd_name, cmd_name))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, cmd, rest = super().resolve_command(ctx, args)
        return (cmd.name if cmd else name), cmd, rest


def pod_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """How to reach a pod target: namespace, kubeconfig/context, the admin port in the pod."""
    f = click.option(
        "--proxy-admin-port",
        "admin_port",
        type=int,
        default=DEFAULT_ADMIN_PORT,
        show_default=True,
        help="Envoy admin port in the pod.",
    )(f)
    f = click.option("--context", "kube_context", default=None, help="The kubeconfig context to use.")(f)
    f = click.option("--kubeconfig", default=None, envvar="KUBECONFIG", help="Path to the kubeconfig file.")(
        f
    )
    f = click.option("-n", "--namespace", default=None, help="Namespace of the pod target (and of --proxy).")(
        f
    )
    return f


def target_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """TARGET argument and the flags that name where a proxy's config comes from."""
    f = pod_options(f)
    f = click.option(
        "-f",
        "--file",
        "files",
        multiple=True,
        metavar="DUMP",
        help="A saved Envoy dump instead of a live proxy ('-' for stdin).",
    )(f)
    f = click.option(
        "--admin",
        default=None,
        metavar="URL",
        help="A live Envoy admin endpoint, e.g. http://127.0.0.1:15000.",
    )(f)
    f = click.argument("target", required=False)(f)
    return f


def verbose_option(help: str) -> Callable[..., Any]:
    """istioctl's Go-style boolean: ``--verbose`` (default true) or ``--verbose=false``."""
    return click.option(
        "--verbose",
        type=click.BOOL,
        default=True,
        is_flag=False,
        flag_value=True,
        show_default=True,
        metavar="[=BOOL]",
        help=help,
    )


def output_flag(
    default: str = "short", choices: tuple[str, ...] = ("short", "json", "yaml")
) -> Callable[..., Any]:
    return click.option(
        "-o",
        "--output",
        "output",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help="Output format.",
    )


def make_target(kw: dict[str, Any]) -> Target:
    return Target.from_args(
        kw.pop("target", None),
        admin=kw.pop("admin", None),
        files=kw.pop("files", ()),
        namespace=kw.pop("namespace", None),
        kubeconfig=kw.pop("kubeconfig", None),
        context=kw.pop("kube_context", None),
        admin_port=kw.pop("admin_port", DEFAULT_ADMIN_PORT),
    )


def show_table(t: Table) -> None:
    print_table(t.headers, t.rows, minwidth=t.minwidth, tabwidth=t.tabwidth, padding=t.padding)


def emit_go(data: Any, output: str, *, yaml_newline: bool = True) -> None:
    """JSON/YAML the way istioctl writes it (4-space JSON; YAML keys sorted, then Println's extra newline)."""
    sys.stdout.write(
        go_yaml(data) + ("\n" if yaml_newline else "") if output == "yaml" else go_json(data) + "\n"
    )


def warn(dump: ConfigDump) -> None:
    dump.warn_unknown_types()
    seen = set()
    for w in dump.warnings:
        if w not in seen:
            seen.add(w)
            click.echo(f"Warning: {w}", err=True)


@click.group("proxy-config", cls=AliasGroup)
def command() -> None:
    """Show a proxy's actual Envoy config (clusters, listeners, routes, endpoints, secrets, ...) and diff it.

    \b
    Targets: --admin http://127.0.0.1:15000 | --file dump.json ('-' = stdin) | pod/NAME -n NS | NAME.NS
    Examples:
      meshctl pc cluster --admin http://127.0.0.1:15000 --fqdn reviews
      curl -s 'localhost:15000/config_dump?include_eds' > dump.json && meshctl pc route --file dump.json
      meshctl pc diff --admin http://127.0.0.1:15000 -f manifests/ --proxy deploy/reviews-v1
    """


@command.command("cluster")
@target_options
@click.option("--fqdn", default="", help="Filter clusters by substring of the service FQDN.")
@click.option("--port", type=int, default=0, help="Filter clusters by port.")
@click.option("--subset", default="", help="Filter clusters by substring of the subset.")
@click.option("--direction", default="", help="Filter clusters by direction (inbound/outbound).")
@output_flag()
def cluster_cmd(fqdn: str, port: int, subset: str, direction: str, output: str, **kw: Any) -> None:
    """Clusters of a proxy (SERVICE FQDN, PORT, SUBSET, DIRECTION, TYPE, DESTINATION RULE).

    \b
    Examples:
      meshctl pc cluster --admin http://127.0.0.1:15000 --fqdn reviews --direction outbound
      meshctl pc cluster productpage-v1-123.default --port 9080 --subset v1
      meshctl pc clusters --file dump.json -o yaml
    """
    from meshctl.envoy.views import cluster

    dump = make_target(kw).config_dump("cluster")
    flt = cluster.ClusterFilter(fqdn, port, subset, direction)
    if output == "short":
        show_table(cluster.table(dump, flt))
    else:
        emit_go(messages_json(cluster.clusters(dump, flt)), output)
    warn(dump)


@command.command("listener")
@target_options
@click.option("--address", default="", help="Filter listeners by address.")
@click.option("--port", type=int, default=0, help="Filter listeners by port.")
@click.option("--type", "type_", default="", help="Filter listeners by type (HTTP, TCP, HTTP+TCP).")
@verbose_option(
    "One row per filter chain with match and destination (--verbose=false: one row per listener)."
)
@output_flag()
def listener_cmd(address: str, port: int, type_: str, verbose: bool, output: str, **kw: Any) -> None:
    """Listeners of a proxy, one row per filter chain (ADDRESSES, PORT, MATCH, DESTINATION).

    \b
    Examples:
      meshctl pc listener --admin http://127.0.0.1:15000 --port 9080
      meshctl pc listener pod/productpage-v1-123 -n default --type HTTP --verbose=false
      meshctl pc listeners --file dump.json --address 0.0.0.0 -o json
    """
    from meshctl.envoy.views import listener

    dump = make_target(kw).config_dump("listener")
    flt = listener.ListenerFilter(address, port, type_)
    if output == "short":
        show_table(listener.table(dump, flt, verbose=verbose))
    else:
        emit_go(messages_json(listener.listeners(dump, flt)), output)
    warn(dump)


@command.command("route")
@target_options
@click.option("--name", default="", help="Filter route configurations by exact name.")
@verbose_option("One row per route (--verbose=false: a count of virtual hosts per route config).")
@output_flag()
def route_cmd(name: str, verbose: bool, output: str, **kw: Any) -> None:
    """Route configurations of a proxy (NAME, VHOST NAME, DOMAINS, MATCH, VIRTUAL SERVICE).

    \b
    Examples:
      meshctl pc route --admin http://127.0.0.1:15000 --name 9080
      meshctl pc route productpage-v1-123.default --verbose=false
      meshctl pc routes --file dump.json --name 9080 -o yaml
    """
    from meshctl.envoy.views import route

    dump = make_target(kw).config_dump("route")
    flt = route.RouteFilter(name)
    if output == "short":
        show_table(route.table(dump, flt, verbose=verbose))
    else:
        emit_go(messages_json(route.route_configs(dump, flt)), output)
    warn(dump)


def endpoint_filter_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--status", default="", help="Filter endpoints by health status (HEALTHY, UNHEALTHY, ...)."
    )(f)
    f = click.option("--cluster", default="", help="Filter endpoints by exact cluster name.")(f)
    f = click.option("--port", type=int, default=0, help="Filter endpoints by port.")(f)
    f = click.option("--address", default="", help="Filter endpoints by address (no port).")(f)
    return f


@command.command("endpoint")
@target_options
@endpoint_filter_options
@output_flag()
def endpoint_cmd(address: str, port: int, cluster: str, status: str, output: str, **kw: Any) -> None:
    """Runtime endpoints with health and outlier status (from /clusters; --file takes a /clusters?format=json dump).

    \b
    Examples:
      meshctl pc endpoint --admin http://127.0.0.1:15000 --cluster 'outbound|9080||reviews.default.svc.cluster.local'
      meshctl pc endpoint productpage-v1-123.default --status unhealthy
      curl -s 'localhost:15000/clusters?format=json' > clusters.json && meshctl pc ep --file clusters.json --port 9080
    """
    from meshctl.envoy.dump import to_json_dict
    from meshctl.envoy.views import endpoint
    from meshctl.envoy.views.eds import EndpointFilter

    status_msg = make_target(kw).clusters_status()
    flt = EndpointFilter(address, port, cluster, status)
    if output == "short":
        show_table(endpoint.table(status_msg, flt))
    else:
        emit_go([to_json_dict(cs) for cs in endpoint.cluster_statuses(status_msg, flt)], output)


@command.command("eds")
@target_options
@endpoint_filter_options
@output_flag()
def eds_cmd(address: str, port: int, cluster: str, status: str, output: str, **kw: Any) -> None:
    """Endpoints as configured by EDS (from /config_dump?include_eds).

    \b
    Examples:
      meshctl pc eds --admin http://127.0.0.1:15000 --cluster 'outbound|9080|v1|reviews.default.svc.cluster.local'
      meshctl pc eds --file dump.json --address 10.244.0.12 -o json
    """
    from meshctl.envoy.views import eds

    dump = make_target(kw).config_dump("endpoint", include_eds=True)
    flt = eds.EndpointFilter(address, port, cluster, status)
    if output == "short":
        show_table(eds.table(dump, flt))
    else:
        emit_go(messages_json(eds.assignments(dump, flt)), output)
    warn(dump)


@command.command("secret")
@target_options
@output_flag()
def secret_cmd(output: str, **kw: Any) -> None:
    """SDS secrets: names, types, status, validity, serial numbers, dates (never key material).

    \b
    Examples:
      meshctl pc secret --admin http://127.0.0.1:15000
      meshctl pc secret productpage-v1-123.default -o json      # certificates only: key material is redacted
    """
    from meshctl.envoy.views import secret

    dump = make_target(kw).config_dump("secret")
    if output == "short":
        t = secret.table(dump)
        if t is None:
            click.echo("No active or warming secrets found.")
        else:
            show_table(t)
    elif output == "json":
        sys.stdout.write(go_jsonpb(secret.redacted_json(dump)) + "\n")  # jsonpb directly, like istioctl
    else:
        emit_go(secret.redacted_json(dump), output)
    warn(dump)


@command.command("bootstrap")
@target_options
@output_flag(default="json")
def bootstrap_cmd(output: str, **kw: Any) -> None:
    """The proxy's bootstrap (-o short: Istio, Istio proxy and Envoy versions).

    \b
    Examples:
      meshctl pc bootstrap --admin http://127.0.0.1:15000 -o short
      meshctl pc bootstrap productpage-v1-123.default -o yaml
    """
    from meshctl.envoy.views import bootstrap

    dump = make_target(kw).config_dump("bootstrap")
    if output == "short":
        sys.stdout.write(bootstrap.summary(dump))
    elif output == "json":
        sys.stdout.write(go_jsonpb(bootstrap.json_data(dump)) + "\n")
    else:
        emit_go(bootstrap.json_data(dump), output)
    warn(dump)


@command.command("ecds")
@target_options
@output_flag()
def ecds_cmd(output: str, **kw: Any) -> None:
    """Extension configs delivered by ECDS (Wasm plugins, telemetry filters).

    \b
    Examples:
      meshctl pc ecds --admin http://127.0.0.1:15000
      meshctl pc ecds --file dump.json -o json
    """
    from meshctl.envoy.views import ecds

    dump = make_target(kw).config_dump("ecds", include_eds=True)
    if output == "short":
        show_table(ecds.table(dump))
    else:
        emit_go(ecds.json_data(dump), output)
    warn(dump)


@command.command("all")
@target_options
@click.option("--fqdn", default="", help="Cluster filter: substring of the service FQDN.")
@click.option("--port", type=int, default=0, help="Cluster/listener port filter.")
@click.option("--subset", default="", help="Cluster filter: substring of the subset.")
@click.option("--direction", default="", help="Cluster filter: direction.")
@click.option("--address", default="", help="Listener filter: address.")
@click.option("--type", "type_", default="", help="Listener filter: type.")
@click.option("--name", default="", help="Route filter: exact name.")
@verbose_option("Verbose listener and route sections.")
@click.option("--with-headers", is_flag=True, help="Print a header line before each section.")
@output_flag()
def all_cmd(
    fqdn: str,
    port: int,
    subset: str,
    direction: str,
    address: str,
    type_: str,
    name: str,
    verbose: bool,
    with_headers: bool,
    output: str,
    **kw: Any,
) -> None:
    """Everything: bootstrap summary, clusters, listeners, routes, secrets and EDS endpoints.

    \b
    Examples:
      meshctl pc all --admin http://127.0.0.1:15000 --with-headers
      meshctl pc all productpage-v1-123.default --port 9080
      meshctl pc all --file dump.json -o json            # the raw dump
    """
    from meshctl.envoy.dump import load_dump
    from meshctl.envoy.views import all as all_view

    target = make_target(kw)
    raw = target.raw_config_dump()
    if output != "short":
        text = raw.decode("utf-8", errors="replace")
        if output == "yaml":
            from meshctl.envoy.dump import loads

            sys.stdout.write(go_yaml(loads(raw, target.describe())))
        else:
            sys.stdout.write(text.rstrip("\n") + "\n")
        return
    dump = load_dump(raw, target.describe())
    sys.stdout.write(
        all_view.summary(
            dump,
            all_view.AllFilters(fqdn, port, subset, direction, address, type_, name),
            verbose=verbose,
            with_headers=with_headers,
        )
    )
    warn(dump)


@command.command("rootca-compare")
@click.argument("targets", nargs=-1)
@click.option(
    "--admin", "admins", multiple=True, metavar="URL", help="Live Envoy admin endpoints (give two)."
)
@click.option("-f", "--file", "files", multiple=True, metavar="DUMP", help="Saved config dumps (give two).")
@pod_options
def rootca_cmd(
    targets: tuple[str, ...],
    admins: tuple[str, ...],
    files: tuple[str, ...],
    namespace: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    admin_port: int,
) -> None:
    """Compare the root CAs of two proxies: can they establish mTLS? (exit 1 when they share none).

    \b
    Examples:
      meshctl pc rootca-compare pod/productpage-v1-123.default pod/reviews-v1-456.default
      meshctl pc rootca-compare --admin http://127.0.1.11:15000 --admin http://127.0.1.13:15000
      meshctl pc rc --file a.json --file b.json
    """
    from meshctl.envoy.views import rootca

    sources: list[Target] = [Target(admin=a) for a in admins] + [Target(files=[f]) for f in files]
    sources += [
        Target.from_args(
            t, namespace=namespace, kubeconfig=kubeconfig, context=kube_context, admin_port=admin_port
        )
        for t in targets
    ]
    if len(sources) != 2:
        raise UsageError("rootca-compare requires 2 proxies (pods, --admin URLs or --file dumps)")

    def label(t: Target) -> str:
        return f"{t.pod}.{t.namespace or 'default'}" if t.pod else t.describe()

    dumps = [t.config_dump("secret") for t in sources]
    same, report = rootca.compare(dumps[0], dumps[1], label(sources[0]), label(sources[1]))
    click.echo(report)
    if not same:
        sys.exit(1)


@command.command("log")
@target_options
@click.option("--level", default=None, help="Not supported: meshctl never changes a proxy (read-only).")
@click.option("-r", "--reset", is_flag=True, help="Not supported: meshctl never changes a proxy (read-only).")
def log_cmd(level: str | None, reset: bool, **kw: Any) -> None:
    """Show the proxy's logging levels (read-only: from /server_info; changing levels is out of scope).

    \b
    Examples:
      meshctl pc log --admin http://127.0.0.1:15000
      meshctl pc log productpage-v1-123.default
    """
    from meshctl.envoy.views import log

    if level or reset:
        raise UsageError(
            "meshctl proxy-config log is read-only: it never changes a proxy's log levels",
            hints=["to change them: curl -X POST 'localhost:15000/logging?level=debug' inside the pod"],
        )
    target = make_target(kw)
    sys.stdout.write(log.render(target.describe(), target.server_info()))


@command.command("diff")
@click.argument("target", required=False)
@click.option("--admin", default=None, metavar="URL", help="The live Envoy admin endpoint to compare.")
@click.option(
    "--file", "dumps", multiple=True, metavar="DUMP", help="A saved dump; give two to compare two dumps."
)
@click.option(
    "-f",
    "--filename",
    "filenames",
    multiple=True,
    metavar="PATH",
    help="Intended config: Istio YAML files/dirs (through the translator).",
)
@click.option(
    "--xds-debug",
    "xds_debug",
    default=None,
    metavar="URL",
    help="Intended config: what a running control plane serves the proxy (its istiod-style "
    "/debug/config_dump?proxyID=, e.g. `meshctl xds serve`'s http://127.0.0.1:15014).",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Intended config: what the running `meshctl demo` serves the proxy (proxy found by its admin URL, "
    "node id or name in the demo's status file).",
)
@click.option(
    "--status-file", default=None, help="The demo's status file (with --demo; default: the per-user one)."
)
@click.option(
    "--proxy",
    default=None,
    help="Which proxy the target is: TYPE/NAME (pod/x, deploy/x) of the -f config; with --xds-debug the "
    "server's proxyID (POD.NS or the node id).",
)
@click.option(
    "--meshconfig",
    default=None,
    metavar="FILE",
    help="MeshConfig YAML for the intended side (or the istio ConfigMap).",
)
@pod_options
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice(["cluster", "listener", "route", "endpoint", "ecds", "secret"]),
    help="Compare only these resource types (repeatable; default: cluster, listener, route, endpoint, ecds).",
)
@click.option(
    "-o", "--output", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def diff_cmd(
    target: str | None,
    admin: str | None,
    dumps: tuple[str, ...],
    filenames: tuple[str, ...],
    xds_debug: str | None,
    demo: bool,
    status_file: str | None,
    proxy: str | None,
    meshconfig: str | None,
    namespace: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    admin_port: int,
    types: tuple[str, ...],
    output: str,
) -> None:
    """Semantic diff: intended config vs a proxy's actual config (or two dumps).

    \b
    The intended side comes from one of:
      -f PATH --proxy TYPE/NAME   Istio/Kubernetes YAML through meshctl's translator (what Pilot would send)
      --xds-debug URL             what a running control plane serves the proxy (/debug/config_dump?proxyID=)
      --demo [--status-file F]    what the running `meshctl demo` serves the proxy
      (a pod target alone)        the live cluster's config, through the translator
      --file A.json               a saved dump
    Exit codes: 0 in sync, 1 drift, 64 usage, 65 bad input, 69 unreachable.

    \b
    Examples:
      meshctl pc diff --admin http://127.0.0.1:15000 -f manifests/ --proxy deploy/reviews-v1
      meshctl pc diff --demo --admin http://127.0.1.11:15000        # a demo proxy vs what the demo serves it
      meshctl pc diff --demo productpage-v1-0.default               # the same, the proxy named by pod
      meshctl pc diff --admin http://127.0.0.1:15000 --xds-debug http://127.0.0.1:15014
      meshctl pc diff pod/reviews-v1-0 -n default       # intended from the live cluster's config
      meshctl pc diff --file before.json --file after.json
    """
    from meshctl.envoy import diff as diff_lib

    def live_target(files: tuple[str, ...] = ()) -> Target:
        return Target.from_args(
            target,
            admin=admin,
            files=files,
            namespace=namespace,
            kubeconfig=kubeconfig,
            context=kube_context,
            admin_port=admin_port,
        )

    sources = [n for n, v in (("-f", filenames), ("--xds-debug", xds_debug), ("--demo", demo)) if v]
    if len(sources) > 1:
        raise UsageError(f"give one intended side, not {' and '.join(sources)}")
    if status_file and not demo:
        raise UsageError("--status-file goes with --demo")
    if (xds_debug or demo) and len(dumps) > 1:
        raise UsageError(f"with {sources[0]} give at most one --file (the actual dump)")
    if demo:
        from meshctl.demo.control import read_status_file
        from meshctl.envoy import intent

        status = read_status_file(status_file)
        proxies = intent.demo_proxies(status)
        if target and not admin and not dumps and "://" not in target:
            # a demo proxy named by pod / workload: read it through its admin URL
            dp = intent.find_demo_proxy(proxies, name=target, namespace=namespace)
            actual_target = Target(admin=dp.admin_url)
            actual = actual_target.config_dump(include_eds=True)
        else:
            actual_target = live_target(dumps)
            actual = actual_target.config_dump(include_eds=True)
            dp = intent.find_demo_proxy(
                proxies, admin_url=actual_target.admin, node_id=intent.proxy_id_of(actual)
            )
        if not status.get("debug_url"):
            raise UsageError("the demo status file has no debug_url (the demo runs without a debug endpoint)")
        intended, left_label = intent.from_debug_endpoint(str(status["debug_url"]), dp.node_id)
        right_label = actual_target.describe()
    elif xds_debug:
        from meshctl.envoy import intent

        actual_target = live_target(dumps)
        actual = actual_target.config_dump(include_eds=True)
        intended, left_label = intent.from_debug_endpoint(xds_debug, proxy or intent.proxy_id_of(actual))
        right_label = actual_target.describe()
    elif filenames:
        if len(dumps) > 1:
            raise UsageError("with -f (intended config) give at most one --file (the actual dump)")
        actual_target = live_target(dumps)
        actual = actual_target.config_dump(include_eds=True)
        intended = diff_lib.intended_dump(list(filenames), proxy, namespace, actual, mesh_config=meshconfig)
        left_label = f"{', '.join(filenames)} ({intended.source})"
        right_label = actual_target.describe()
    elif target and not dumps and not admin:
        # a pod, and no -f: the intended config comes from the same live cluster, with its MeshConfig (the
        # istio ConfigMap; --meshconfig overrides it)
        from meshctl.sources.kubernetes.inputs import load_inputs, print_notes

        actual_target = live_target()
        actual = actual_target.config_dump(include_eds=True)
        inputs = load_inputs(kube=True, kubeconfig=kubeconfig, context=kube_context, meshconfig=meshconfig)
        print_notes(inputs.notes)
        intended = diff_lib.intended_dump(
            [], proxy, namespace, actual, resources=inputs.resources, mesh_config=inputs.mesh_config
        )
        left_label, right_label = f"live cluster config ({intended.source})", actual_target.describe()
    elif len(dumps) == 1 and (target or admin):
        intended_t = Target(files=[dumps[0]])
        actual_target = live_target()
        intended, actual = (
            intended_t.config_dump(include_eds=True),
            actual_target.config_dump(include_eds=True),
        )
        left_label, right_label = dumps[0], actual_target.describe()
    elif len(dumps) == 2 and not (target or admin):
        intended, actual = (
            Target(files=[dumps[0]]).config_dump(include_eds=True),
            Target(files=[dumps[1]]).config_dump(include_eds=True),
        )
        left_label, right_label = dumps[0], dumps[1]
    else:
        raise UsageError(
            "give an intended side (-f CONFIG_PATH, --xds-debug URL, --demo) with a target (--admin/--file/pod), "
            "or two dumps: --file A.json --file B.json"
        )
    result = diff_lib.diff_dumps(intended, actual, kinds=tuple(types) or diff_lib.KINDS)
    if filenames:
        diff_lib.note_demo_proxy(result, actual)
    if output == "json":
        from meshctl.cli.output import emit

        emit(result.to_json(left_label, right_label), "json")
    else:
        words = ("first", "second") if len(dumps) == 2 else ("intended", "actual")
        text = diff_lib.render_text(result, left_label, right_label, words)
        from meshctl.cli.output import stdout_is_terminal

        if stdout_is_terminal():  # colour by line kind, only on a terminal
            colours = {"- ": "red", "+ ": "green", "~ ": "yellow", "! ": "cyan", "In": "green", "Dr": "red"}
            text = "".join(
                click.style(ln, fg=colours.get(ln[:2])) if ln[:2] in colours else ln
                for ln in text.splitlines(True)
            )
        sys.stdout.write(text)
    warn(intended)
    warn(actual)
    if not result.in_sync:
        sys.exit(1)
