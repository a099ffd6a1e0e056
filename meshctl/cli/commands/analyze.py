"""``meshctl analyze``: istioctl-compatible configuration analysis of files and/or a live cluster.

Exit codes: 0 no message at or above the failure threshold, 79 messages reached it, 64 bad flags,
65 bad input files, 69 cluster unreachable.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from meshctl.cli.options import kube_options
from meshctl.errors import EXIT_ANALYZE_FINDINGS, UsageError

LEVELS = click.Choice(["Info", "Warning", "Error", "info", "warning", "error", "INFO", "WARNING", "ERROR"])


def _list_analyzers(analyzers: list[Any]) -> None:
    from meshctl.cli.output import print_table

    rows = [(a.name, ",".join(a.codes), a.source, a.description) for a in sorted(analyzers, key=lambda a: a.name)]
    print_table(["ANALYZER", "CODES", "SOURCE", "DESCRIPTION"], rows, padding=3)


def _load_kube(kubeconfig: str | None, context: str | None) -> tuple[list[Any], str]:
    """Every resource of the cluster (routing crosses namespaces; output is filtered later) and the context's namespace."""
    from meshctl.sources.kubernetes import load_cluster

    res = load_cluster(kubeconfig=kubeconfig, context=context, all_namespaces=True)
    return list(res), str(getattr(res, "namespace_default", None) or "default")


@click.command("analyze", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("files", nargs=-1, type=str)
@click.option("-f", "--filename", "filenames", multiple=True, help="File, directory (recursive) or - for stdin; repeatable.")
@click.option("-k", "--kube", "use_kube", is_flag=True, help="Also read resources from the live cluster (files are layered on top).")
@kube_options
@click.option("-n", "--namespace", "namespace", default=None, help="Namespace to analyze (default: the context's, else 'default').")
@click.option("-A", "--all-namespaces", "all_namespaces", is_flag=True, help="Analyze all namespaces.")
@click.option("--meshconfig", "meshconfig", default=None, type=str, help="MeshConfig YAML file to use.")
@click.option("--meshnetworks", "meshnetworks", default=None, type=str, help="MeshNetworks YAML file to use.")
@click.option("-o", "--output", "output", type=click.Choice(["text", "json", "yaml", "sarif", "github"]), default="text", show_default=True)
@click.option("--output-threshold", default="Info", type=LEVELS, show_default=True, help="Lowest level of messages to print.")
@click.option("--failure-threshold", default="Error", type=LEVELS, show_default=True, help="Lowest level of messages that makes the exit code 79.")
@click.option("-S", "--suppress", "suppress", multiple=True, help='Suppress CODE=RESOURCE (globs allowed), e.g. -S "IST0102=Namespace frod".')
@click.option("--analyzer", "analyzer_names", multiple=True, help="Run only this analyzer (or name prefix); repeatable.")
@click.option("-L", "--list-analyzers", is_flag=True, help="List the analyzers and exit.")
def command(
    files: tuple[str, ...],
    filenames: tuple[str, ...],
    use_kube: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    namespace: str | None,
    all_namespaces: bool,
    meshconfig: str | None,
    meshnetworks: str | None,
    output: str,
    output_threshold: str,
    failure_threshold: str,
    suppress: tuple[str, ...],
    analyzer_names: tuple[str, ...],
    list_analyzers: bool,
) -> int:
    """Analyze Istio configuration and report problems with istioctl's codes (IST0xxx) and meshctl's (MSH0xxx).

    \b
    Examples:
      meshctl analyze -A -f manifests/                 # files only, no cluster needed
      meshctl analyze -k -n bookinfo -f new-vs.yaml     # the cluster with a change layered on top
      meshctl analyze -A -o sarif manifests/ > analyze.sarif
      meshctl analyze -A -S "IST0102=Namespace *" manifests/
    """
    from meshctl.analyze.formats import render
    from meshctl.analyze.messages import Level
    from meshctl.analyze.registry import all_analyzers, select
    from meshctl.analyze.run import Suppression, analyze, load_mesh_config_file
    from meshctl.cli.output import progress
    from meshctl.sources import load_paths

    analyzers = all_analyzers()
    if list_analyzers:
        _list_analyzers(select(analyzers, analyzer_names))
        return 0
    if all_namespaces and namespace:
        raise UsageError("--namespace and --all-namespaces cannot be used together")
    chosen = select(analyzers, analyzer_names)
    suppressions = [Suppression.parse(s) for s in suppress]
    paths = list(files) + list(filenames)
    if not paths and not use_kube:
        raise UsageError("nothing to analyze", hints=["give files or directories (meshctl analyze -A manifests/), or -k for the live cluster"])
    resources: list[Any] = []
    context_ns = "default"
    with progress("Analyzing…"):
        if use_kube:
            cluster, context_ns = _load_kube(kubeconfig, kube_context)
            resources.extend(cluster)
        # istioctl: -A leaves namespace-less file resources without a namespace; otherwise they get the selected one
        selected = None if all_namespaces else (namespace or context_ns)
        if paths:
            file_res = load_paths(paths, default_namespace="" if all_namespaces else (selected or "default"))
            for i, r in enumerate(file_res):
                r.index = len(resources) + i
            resources.extend(file_res)
        mesh_config = load_mesh_config_file(meshconfig) if meshconfig else None
        result = analyze(
            resources,
            mesh_config=mesh_config,
            mesh_config_file=meshconfig,
            analyzers=chosen,
            namespace=selected,
            suppressions=suppressions,
            output_threshold=Level.parse(output_threshold),
            complete=use_kube,
            mesh_networks=load_mesh_config_file(meshnetworks) if meshnetworks else None,
            mesh_networks_file=meshnetworks,
        )
    shown = result.messages
    fail_level = Level.parse(failure_threshold)
    # messages hidden by --output-threshold still count for the failure threshold (istioctl semantics)
    failing = any(m.level >= fail_level for m in shown + result.below_threshold)
    if output == "text":
        sys.stdout.write(render(shown, "text"))
        if not shown:
            where = "all namespaces" if all_namespaces else f"namespace: {selected}"
            click.echo(f"\u2714 No validation issues found when analyzing {where}.", err=True)
    else:
        sys.stdout.write(render(shown, output))
    return EXIT_ANALYZE_FINDINGS if failing else 0

