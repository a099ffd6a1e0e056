"""The local demo mesh (``meshctl demo``): meshctl's xDS server, one real Envoy per pod on its own loopback IP,
small bookinfo apps behind them, a load generator, and a loopback control endpoint for live changes.

Modules: :mod:`.topology` (pods and IPs), :mod:`.controlplane` (xDS server + translation), :mod:`.procguard`
(children that cannot outlive us), :mod:`.apps`, :mod:`.loadgen`, :mod:`.control` (apply/status endpoint and
client), :mod:`.addresses` (app addresses read from the translated config) and :mod:`.mesh` (``DemoMesh``).
"""

import os

# Envoys are forked and exec'd at once; gRPC's fork handlers are useless there and log a warning per fork
# while the xDS server's threads run. Must be set before grpc is first imported to take effect.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
