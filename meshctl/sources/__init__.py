"""Sources: where mesh config comes from (files, stdin, live Kubernetes). Each source yields :class:`Resource`."""

from meshctl.sources.resource import Resource
from meshctl.sources.yaml_loader import load_paths, load_text

__all__ = ["Resource", "load_paths", "load_text"]
