"""``proxy-config`` views: one module per subcommand, each turning a parsed dump into rows or JSON data.

Every view is a pure function of a :class:`~meshctl.envoy.dump.ConfigDump` (or a ``/clusters`` status), so the
CLI, the TUI and tests share them. Short tables reproduce istioctl's columns, values and order.
"""
