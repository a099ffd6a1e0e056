"""meshctl's xDS control plane: a snapshot cache, an ADS server (SotW and delta), sync status and a client bootstrap.

Layers, like go-control-plane: :mod:`.snapshot` (immutable per-node resource sets), :mod:`.cache` (which node has
which snapshot, who is watching), :mod:`.server` (gRPC stream handling, the protocol rules), :mod:`.status` (what
was sent, ACKed, NACKed per proxy), :mod:`.debug` (istiod-like HTTP debug endpoint), :mod:`.source` (files -> model
-> translator -> snapshots, with ``--watch``) and :mod:`.bootstrap` (an Envoy bootstrap that connects to us).
"""
