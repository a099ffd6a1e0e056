"""Behaviour suite support: Python echo servers (Istio's echo reply contract) and a client-sidecar harness."""
