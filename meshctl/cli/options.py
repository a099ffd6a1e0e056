"""Shared kubectl/istioctl-style options, so every command spells them the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def filename_option(required: bool = False, help: str = "File, directory (recursive) or - for stdin; repeatable.") -> Callable[[F], F]:
    return click.option("-f", "--filename", "filenames", multiple=True, type=str, required=required, help=help)


def namespace_options(f: F) -> F:
    f = click.option("-A", "--all-namespaces", "all_namespaces", is_flag=True, help="All namespaces.")(f)
    f = click.option("-n", "--namespace", "namespace", default=None, help="Namespace (default: the context's, else 'default').")(f)
    return f


def kube_options(f: F) -> F:
    f = click.option("--kubeconfig", default=None, envvar="KUBECONFIG", help="Path to the kubeconfig file.")(f)
    f = click.option("--context", "kube_context", default=None, help="The kubeconfig context to use.")(f)
    return f


def output_option(choices: list[str], default: str) -> Callable[[F], F]:
    return click.option("-o", "--output", "output", type=click.Choice(choices), default=default, show_default=True, help="Output format.")
