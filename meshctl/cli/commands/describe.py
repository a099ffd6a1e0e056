"""``meshctl describe pod|svc NAME -f CONFIG``: the Istio config that applies to a workload or a service.

Like ``istioctl x describe``: Services selecting the pod, the DestinationRule and VirtualService the proxy
uses for each service port (with matching subsets, routes and weights), RBAC policies, the effective
PeerAuthentication and the ingress gateways exposing it. The proxy config comes from the translator
(intended) or, with ``--admin``/``--file``, from the pod's actual Envoy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from meshctl.errors import UsageError


class _DescribeGroup(click.Group):
    ALIASES = {
        "po": "pod",
        "pods": "pod",
        "deploy": "pod",
        "deployment": "pod",
        "svc": "service",
        "services": "service",
    }

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.ALIASES.get(cmd_name, cmd_name))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, cmd, rest = super().resolve_command(ctx, args)
        return (cmd.name if cmd else name), cmd, rest


@click.group("describe", cls=_DescribeGroup, invoke_without_command=True)
@click.pass_context
def command(ctx: click.Context) -> None:
    """Describe resource and related Istio configuration (pod|po|deploy NAME, service|svc NAME).

    \b
    Examples:
      meshctl describe pod reviews-v1 -f meshctl/examples/bookinfo
      meshctl describe svc reviews -f meshctl/examples/bookinfo -n default
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(
        [
            click.argument("name", required=False),
            click.option(
                "-f",
                "--filename",
                "filenames",
                multiple=True,
                metavar="PATH",
                help="Istio/Kubernetes YAML (files, dirs, - for stdin).",
            ),
            click.option("-n", "--namespace", default=None, help="Namespace (default: 'default')."),
            click.option(
                "--admin",
                default=None,
                metavar="URL",
                help="Use this live Envoy's config for the pod (instead of the translator's).",
            ),
            click.option(
                "--file", "dump", default=None, metavar="DUMP", help="Use this saved config dump for the pod."
            ),
            click.option(
                "--meshconfig", default=None, metavar="FILE", help="MeshConfig YAML (root namespace, ...)."
            ),
            click.option(
                "--kubeconfig",
                default=None,
                envvar="KUBECONFIG",
                help="Without -f: read the live cluster (and pods' Envoys).",
            ),
            click.option("--context", "kube_context", default=None, help="The kubeconfig context to use."),
        ]
    ):
        f = opt(f)
    return f


def _setup(
    filenames: tuple[str, ...],
    namespace: str | None,
    meshconfig: str | None,
    admin: str | None,
    dump: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
) -> tuple[object, object]:
    """The model (from -f files, else the live cluster) and how to get a proxy's config dump."""
    from meshctl.model import build_mesh
    from meshctl.sources import load_paths

    live = not filenames
    if live:  # the cluster's objects and its MeshConfig (istio ConfigMap), --meshconfig overriding
        from meshctl.sources.kubernetes.inputs import load_inputs, print_notes

        inputs = load_inputs(kube=True, kubeconfig=kubeconfig, context=kube_context, meshconfig=meshconfig)
        print_notes(inputs.notes)
        resources, mesh_config = inputs.resources, inputs.mesh_config
    else:
        mesh_config = None
        if meshconfig:
            from meshctl.model.meshconfig import load_mesh_config

            mesh_config = load_mesh_config(meshconfig)
        resources = load_paths(list(filenames), default_namespace=namespace or "default")
    mesh = build_mesh(resources, mesh_config)

    cache: dict[str, object] = {}

    def dump_for(proxy: object) -> object:
        from meshctl.envoy.admin import Target
        from meshctl.envoy.dump import ConfigDump
        from meshctl.translate import translate
        from meshctl.translate.dump import config_dump

        key = proxy.id  # type: ignore[attr-defined]
        if key not in cache:
            w = proxy.workload  # type: ignore[attr-defined]
            if (admin or dump) and not cache:
                cache[key] = Target(admin=admin, files=[dump] if dump else []).config_dump(include_eds=False)
            elif live and w.kind == "Pod":
                cache[key] = Target(
                    pod=w.name, namespace=w.namespace, kubeconfig=kubeconfig, context=kube_context
                ).config_dump()
            else:
                cache[key] = ConfigDump(config_dump(translate(mesh, proxy)), source=f"translate({key})")  # type: ignore[arg-type]
        return cache[key]

    return mesh, dump_for


@command.command("pod")
@_options
def pod_cmd(
    name: str | None,
    filenames: tuple[str, ...],
    namespace: str | None,
    admin: str | None,
    dump: str | None,
    meshconfig: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
) -> None:
    """Describe a pod (or a Deployment's pods) and the Istio configuration that affects it.

    \b
    Examples:
      meshctl describe pod reviews-v1 -f meshctl/examples/bookinfo
      meshctl describe pod ratings-v1 -f manifests/ --file ratings-dump.json   # with the pod's actual config
      meshctl describe pod productpage-v1 -f manifests/ --admin http://127.0.0.1:15000
      meshctl describe pod reviews-v1-abc -n default                          # live cluster (kubeconfig)
    """
    from meshctl.envoy.describe import Describer, resolve_pod

    if not name:
        raise UsageError("expecting pod name")
    mesh, dump_for = _setup(filenames, namespace, meshconfig, admin, dump, kubeconfig, kube_context)
    proxy = resolve_pod(mesh, name.split("/", 1)[-1], namespace)
    sys.stdout.write(Describer(mesh, dump_for, namespace or "default").pod(proxy))  # type: ignore[arg-type]


@command.command("service")
@_options
def service_cmd(
    name: str | None,
    filenames: tuple[str, ...],
    namespace: str | None,
    admin: str | None,
    dump: str | None,
    meshconfig: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
) -> None:
    """Describe a service, the pods behind it and the Istio configuration that affects it.

    \b
    Examples:
      meshctl describe service reviews -f meshctl/examples/bookinfo
      meshctl describe svc istio-ingressgateway -n istio-system -f manifests/
      meshctl describe svc ratings -n default                                 # live cluster (kubeconfig)
    """
    from meshctl.envoy.describe import Describer, resolve_service

    if not name:
        raise UsageError("expecting service name")
    mesh, dump_for = _setup(filenames, namespace, meshconfig, admin, dump, kubeconfig, kube_context)
    svc = resolve_service(mesh, name, namespace)
    sys.stdout.write(Describer(mesh, dump_for, namespace or svc.namespace).service(svc))  # type: ignore[arg-type]
