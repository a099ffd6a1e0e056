"""``meshctl tui``: a Textual app over the graph library (k9s conventions: ``:`` commands, ``/`` filter).

The app owns one :class:`~meshctl.graph.source.GraphSource` and refreshes it every ``interval`` seconds
(a worker thread for live sources, so polling proxies never blocks keys); screens redraw in place from
the newest snapshot. Everything it shows comes from library functions the tests call directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from meshctl.errors import MeshctlError, UnavailableError, UsageError
from meshctl.graph.source import GraphSnapshot, GraphSource, StaticSource
from meshctl.tui.screens import (
    FindingsScreen,
    GraphScreen,
    HelpScreen,
    OverviewScreen,
    PromptScreen,
    ProxyScreen,
    ResourcesScreen,
)

RESOURCE_COMMANDS = {
    "vs": "VirtualService", "virtualservice": "VirtualService", "virtualservices": "VirtualService",
    "dr": "DestinationRule", "destinationrule": "DestinationRule", "destinationrules": "DestinationRule",
    "gateway": "Gateway", "gateways": "Gateway", "gwy": "Gateway",
    "se": "ServiceEntry", "serviceentry": "ServiceEntry", "serviceentries": "ServiceEntry",
    "sidecar": "Sidecar", "sidecars": "Sidecar", "pa": "PeerAuthentication", "ap": "AuthorizationPolicy",
    "deploy": "Deployment", "deployments": "Deployment", "pod": "Pod", "pods": "Pod",
}
OVERVIEW_COMMANDS = {"svc": "svc", "services": "svc", "service": "svc", "wl": "wl", "workloads": "wl",
                     "workload": "wl", "gw": "gw", "all": "all", "overview": "all", "home": "all"}


class MeshApp(App[None]):
    """The mesh TUI. ``source`` provides snapshots; ``interval`` None disables the refresh timer (tests)."""

    TITLE = "meshctl"
    BINDINGS = [
        Binding("colon", "command", ":cmd", show=True),
        Binding("slash", "filter", "/filter", show=True),
        Binding("question_mark", "help", "?help", show=True),
        Binding("escape", "go_back", "Back", show=True),
        Binding("q", "quit", "Quit", show=True),
        Binding("ctrl+r", "refresh_now", "Refresh", show=False),
    ]

    def __init__(self, source: GraphSource, *, interval: float | None = 1.5, config_paths: list[str] | None = None,
                 prefer_dot: bool = True, start: str = "overview") -> None:
        super().__init__()
        self.source = source
        self.interval = interval
        self.snapshot: GraphSnapshot | None = None
        self.config_paths = list(config_paths or [])
        self.prefer_dot = prefer_dot
        self.start = start
        self.threaded = not isinstance(source, StaticSource)
        self.refresh_count = 0
        self._findings_cache: tuple[int, list[Any]] | None = None

    # ------------------------------------------------------------------------------------------ data
    def on_mount(self) -> None:
        self._fetch_sync()
        self.push_screen(OverviewScreen())
        if self.start.startswith("graph"):
            self.open_graph(None)
        if self.interval:
            self.set_interval(self.interval, self.action_refresh_now)

    def _fetch_sync(self) -> None:
        try:
            self._apply(self.source.snapshot())
        except MeshctlError as e:
            self.notify(str(e), severity="error", timeout=6)

    def _fetch_thread(self) -> None:
        try:
            snap = self.source.snapshot()
        except MeshctlError as e:
            self.call_from_thread(self.notify, str(e), severity="error", timeout=6)
            return
        self.call_from_thread(self._apply, snap)

    def _apply(self, snap: GraphSnapshot) -> None:
        self.snapshot = snap
        self.refresh_count += 1
        for screen in self.screen_stack:
            update = getattr(screen, "update_data", None)
            if update is not None and screen.is_mounted:
                update()

    def action_refresh_now(self) -> None:
        if self.threaded:
            self.run_worker(self._fetch_thread, thread=True, exclusive=True, group="refresh")
        else:
            self._fetch_sync()

    #: what ctrl+p offers besides Textual's own entries (each runs the same code as the ``:`` command)
    PALETTE = (
        ("Overview: all", "Services, workloads and gateways", "all"),
        ("Overview: services", "Only services and service entries (:svc)", "svc"),
        ("Overview: workloads", "Only workloads (:wl)", "wl"),
        ("Overview: gateways", "Only gateway workloads (:gw)", "gw"),
        ("Graph: workload", "The live traffic graph (:graph)", "graph workload"),
        ("Graph: app", "Kiali's app graph", "graph app"),
        ("Graph: versioned app", "Kiali's versionedApp graph", "graph versionedApp"),
        ("Graph: service", "Kiali's service graph", "graph service"),
        ("VirtualServices", "List VirtualServices (:vs)", "vs"),
        ("DestinationRules", "List DestinationRules (:dr)", "dr"),
        ("Gateways (config)", "List Istio Gateways (:gateway)", "gateway"),
        ("ServiceEntries", "List ServiceEntries (:se)", "se"),
        ("Findings", "Analyzer findings (:findings)", "findings"),
    )

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, cmd in self.PALETTE:
            yield SystemCommand(title, help_text, lambda cmd=cmd: self.run_command(cmd))  # type: ignore[misc]

    # ------------------------------------------------------------------------------------- navigation
    def open_graph(self, focus: str | None, graph_type: str = "workload") -> None:
        self.push_screen(GraphScreen(focus, graph_type))

    def open_proxy(self, node_or_name: str) -> None:
        self.push_screen(ProxyScreen(self._proxy_name(node_or_name)))

    def _proxy_name(self, node_or_name: str) -> str:
        """``wl:default/reviews-v1`` -> ``reviews-v1.default``; names pass through."""
        if node_or_name.startswith(("wl:", "vapp:", "app:")) and self.snapshot is not None:
            d = self.snapshot.graph.nodes.get(node_or_name) or {}
            members = d.get("members") or [node_or_name]
            ns, _, name = members[0].split(":", 1)[1].partition("/")
            return f"{name}.{ns}"
        if node_or_name.startswith(("svc:", "se:")) and self.snapshot is not None:
            # A service has no proxy of its own: open the first workload behind it.
            g = self.snapshot.graph
            if node_or_name in g:
                backends = sorted(b for b in g.successors(node_or_name) if b.startswith("wl:"))
                if backends:
                    return self._proxy_name(backends[0])
            return node_or_name.split(":", 1)[1]
        return node_or_name

    def action_go_back(self) -> None:
        """Esc: back to the previous screen (never past the overview)."""
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_command(self) -> None:
        self.push_screen(PromptScreen(":"), self._command_done)

    def _command_done(self, text: str | None) -> None:
        if text:
            self.run_command(text)

    def action_filter(self) -> None:
        screen = self.screen
        if not hasattr(screen, "apply_filter"):
            return
        current = getattr(screen, "filter_text", None) or getattr(screen, "find_expr", None) or ""
        prompt = "find" if isinstance(screen, GraphScreen) else "/"
        self.push_screen(PromptScreen(prompt, current), lambda t: screen.apply_filter(t or "") if t is not None else None)

    def run_command(self, text: str) -> None:
        """Run a ``:`` command (k9s style); unknown ones say so in a notification."""
        parts = text.strip().lstrip(":").split()
        if not parts:
            return
        cmd, args = parts[0].lower(), parts[1:]
        if cmd in ("q", "quit", "q!"):
            self.exit()
        elif cmd in OVERVIEW_COMMANDS:
            self._reset_to_base()
            base = self.screen
            if isinstance(base, OverviewScreen):
                base.kind = OVERVIEW_COMMANDS[cmd]
                base._keys = []
                base.update_data()
        elif cmd in ("graph", "g"):
            gtype = args[0] if args else "workload"
            from meshctl.graph.views import GRAPH_TYPES

            if gtype not in GRAPH_TYPES:
                self.notify(f"unknown graph type {gtype!r} (one of {', '.join(GRAPH_TYPES)})", severity="error")
                return
            self.open_graph(None, gtype)
        elif cmd in RESOURCE_COMMANDS:
            self.push_screen(ResourcesScreen(RESOURCE_COMMANDS[cmd]))
        elif cmd in ("proxy", "pc", "px"):
            if not args:
                self.notify("usage: :proxy NAME (a workload, pod or pod.namespace)", severity="error")
                return
            self.open_proxy(args[0])
        elif cmd in ("findings", "analyze", "lint"):
            self.push_screen(FindingsScreen())
        elif cmd in ("diff", "explain"):
            from meshctl.tui.screens import DiffScreen, ExplainScreen

            if not args:
                self.notify(f"usage: :{cmd} NAME" + (" URL [Header:value ...]" if cmd == "explain" else ""), severity="error")
                return
            if cmd == "diff":
                self.push_screen(DiffScreen(args[0]))
            else:
                self.push_screen(ExplainScreen(args[0], args[1] if len(args) > 1 else "", tuple(args[2:])))
        elif cmd in ("help", "h"):
            self.action_help()
        else:
            self.notify(f"unknown command :{cmd} (try :svc :vs :dr :gw :graph :proxy NAME :findings, ? for help)",
                        severity="error")

    def _reset_to_base(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    # ------------------------------------------------------------------------------ library adapters
    def _target_for(self, name: str) -> Any:
        """The polled proxy (admin URL) matching ``name`` (pod, pod.ns, workload, workload.ns)."""
        snap = self.snapshot
        for t in (snap.proxies if snap else []):
            names = {t.name, t.workload, f"{t.workload}.{t.namespace}", f"{t.name}.{t.namespace}"}
            if name in names or name.split(".")[0] in (t.workload, t.name.split(".")[0]):
                return t
        return None

    def _deploy_ref(self, name: str) -> tuple[str, str | None]:
        base, _, ns = name.partition(".")
        return f"deploy/{base}", (ns or None)

    def _config_paths(self) -> list[str]:
        paths = list(getattr(getattr(self.source, "config", None), "paths", []) or self.config_paths)
        return paths

    def proxy_dump(self, name: str) -> tuple[Any, str]:
        """Live dump (admin) when the proxy is polled, else the embedded translator's intended dump."""
        t = self._target_for(name)
        if t is not None:
            from meshctl.tui.proxytree import load_live_dump

            return load_live_dump(t.admin_url), f"live {t.admin_url}"
        paths = self._config_paths()
        if not paths:
            raise UnavailableError(f"no admin URL known for {name} and no config files to translate",
                                   hints=["start the TUI with --admin URL, --demo or -f CONFIG"])
        from meshctl.envoy.diff import intended_dump

        proxy, ns = self._deploy_ref(name)
        return intended_dump(paths, proxy, ns), "intended (embedded translator)"

    def proxy_diff(self, name: str) -> tuple[str, str]:
        from meshctl.envoy.diff import diff_dumps, intended_dump, render_text
        from meshctl.tui.proxytree import load_live_dump

        t = self._target_for(name)
        if t is None:
            raise UsageError(f"no live proxy named {name}: the diff needs an admin URL (--admin or --demo)")
        debug_url = getattr(self.source, "debug_url", None)
        if debug_url:
            # The xDS server that feeds this proxy (the demo's) says what it intends to send it.
            from meshctl.xds.compare import intended_from_server

            proxy_id = t.name if "." in t.name else f"{t.name}.{t.namespace}"
            intended, left = intended_from_server(debug_url, proxy_id), f"xDS server {debug_url}"
        else:
            paths = self._config_paths()
            if not paths:
                raise UsageError("the diff needs the intended config: start the TUI with -f CONFIG (or --demo)")
            intended, left = intended_dump(paths, f"deploy/{t.workload}", t.namespace), "intended (translator)"
        result = diff_dumps(intended, load_live_dump(t.admin_url))
        status = "in sync" if result.in_sync else "drift"
        return render_text(result), f"{left} vs live {t.admin_url} · {status}"

    def proxy_explain(self, name: str, url: str = "", headers: tuple[str, ...] = ()) -> tuple[str, str]:
        """Envoy's walk for one request through the proxy's config (``meshctl.envoy.explain``)."""
        if not url:
            raise UsageError("which request? :explain PROXY URL [Header:value ...], e.g. "
                             ":explain productpage-v1 http://reviews:9080/ end-user:jason")
        from meshctl.envoy.explain import Request, explain, render

        dump, where = self.proxy_dump(name)
        exp = explain(dump, Request.parse(url, headers=headers))
        return render(exp), f"{url} via {where} · {exp.outcome}"

    def findings(self) -> list[Any]:
        """Analyzer messages for the snapshot's resources (cached per resource list)."""
        snap = self.snapshot
        if snap is None:
            return []
        key = id(snap.resources)
        if self._findings_cache is not None and self._findings_cache[0] == key:
            return self._findings_cache[1]
        from meshctl.analyze.run import analyze

        msgs = list(analyze(snap.resources).messages)
        self._findings_cache = (key, msgs)
        return msgs
