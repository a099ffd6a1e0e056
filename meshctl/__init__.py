"""meshctl: debug and introspect Istio/Envoy service meshes.

Data flows one way: sources -> model -> translate / analyze / graph -> outputs (CLI, TUI, xDS server).
"""

__version__ = "0.1.0"
