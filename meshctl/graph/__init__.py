"""The mesh's traffic graph (Kiali's model): configuration, live traffic, health, views, find/hide, exports.

Entry points: :func:`meshctl.graph.source.make_source` (files, demo, admin URLs, cluster, Prometheus) ->
``.snapshot().graph``; :func:`meshctl.graph.build.build_graph` (topology + traffic window -> graph);
:func:`meshctl.graph.views.view` (app / versionedApp / service); :mod:`meshctl.graph.findhide`;
:mod:`meshctl.graph.export`. User docs: ``docs/tui.md``.
"""
