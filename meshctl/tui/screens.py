"""The TUI's screens: overview, graph, resources, proxy config, findings, diff, explain, help, prompts.

Every screen reads the app's latest :class:`~meshctl.graph.source.GraphSnapshot` and redraws in place when
a new one arrives (``update_data``), keeping the cursor/selection on the same node.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Label, Static, Tree

from meshctl.cli.output import display_path
from meshctl.errors import MeshctlError
from meshctl.graph import findhide
from meshctl.graph.views import GRAPH_TYPES, view
from meshctl.tui.rows import COLUMNS, overview_rows, sort_rows
from meshctl.tui.widgets import GraphCanvas, legend, node_detail

if TYPE_CHECKING:
    from meshctl.tui.app import MeshApp


class Header(Static):
    """One status line: source, refresh time, counts, errors (no clock, so snapshots are stable)."""

    DEFAULT_CSS = "Header { height: 1; background: $primary-background; color: $text; padding: 0 1; }"


class _Base(Screen[None]):
    @property
    def mapp(self) -> MeshApp:
        return self.app  # type: ignore[return-value]

    def status_text(self, extra: str = "") -> str:
        snap = self.mapp.snapshot
        if snap is None:
            return f"meshctl · {self.mapp.source.description} · loading…"
        g = snap.graph
        errs = f" · {len(snap.errors)} error(s)" if snap.errors else ""
        win = f" · window {snap.window.seconds:.1f}s" if snap.window is not None and snap.window.seconds else ""
        return (f"meshctl · {snap.source or self.mapp.source.description} · {g.number_of_nodes()} nodes "
                f"{g.number_of_edges()} edges{win}{errs}{(' · ' + extra) if extra else ''}")

    def update_data(self) -> None:
        """Called by the app after each refresh."""


# ----------------------------------------------------------------------------------------------- overview
class OverviewScreen(_Base):
    """Services, workloads and gateways with health and rates; sortable, filterable (k9s-style)."""

    BINDINGS = [
        Binding("s", "sort_next", "Sort"),
        Binding("r", "reverse", "Reverse"),
        Binding("enter", "drill", "Graph", show=True),
        Binding("g", "graph", "Graph"),
        Binding("p", "proxy", "Proxy config"),
    ]

    def __init__(self, kind: str = "all") -> None:
        super().__init__()
        self.kind = kind
        self.filter_text = ""
        self.sort_col = "HEALTH"
        self.sort_reverse = False
        self._keys: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header(id="status")
        yield DataTable(id="overview", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for c in COLUMNS:
            table.add_column(c, key=c)
        self.update_data()

    def update_data(self) -> None:
        snap = self.mapp.snapshot
        table = self.query_one(DataTable)
        title = {"all": "all", "svc": "services", "wl": "workloads", "gw": "gateways"}.get(self.kind, self.kind)
        filt = f" · filter /{self.filter_text}" if self.filter_text else ""
        self.query_one("#status", Header).update(self.status_text(f"{title} · sort {self.sort_col}{' ↑' if self.sort_reverse else ''}{filt}"))
        if snap is None:
            return
        rows = sort_rows(overview_rows(snap.graph, self.kind, self.filter_text), self.sort_col, self.sort_reverse)
        keys = [r.node for r in rows]
        if keys == self._keys:
            for r in rows:  # same rows: update cells in place (no flicker, cursor stays)
                for c, v in zip(COLUMNS, r.cells(), strict=True):
                    table.update_cell(r.node, c, self._styled(c, v))
            return
        current = self.selected_node()
        table.clear()
        for r in rows:
            table.add_row(*(self._styled(c, v) for c, v in zip(COLUMNS, r.cells(), strict=True)), key=r.node)
        self._keys = keys
        if current in keys:
            table.move_cursor(row=keys.index(current))

    @staticmethod
    def _styled(col: str, v: str) -> Any:
        if col == "HEALTH":
            return Text(v, style={"healthy": "green", "degraded": "yellow", "failure": "bold red"}.get(v, "dim"))
        return v

    def selected_node(self) -> str | None:
        table = self.query_one(DataTable)
        if not self._keys or table.cursor_row is None or table.cursor_row >= len(self._keys):
            return None
        return self._keys[table.cursor_row]

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        col = str(event.column_key.value)
        if col == self.sort_col:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_col, self.sort_reverse = col, False
        self._keys = []
        self.update_data()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_drill()

    def action_sort_next(self) -> None:
        i = COLUMNS.index(self.sort_col)
        self.sort_col = COLUMNS[(i + 1) % len(COLUMNS)]
        self._keys = []
        self.update_data()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._keys = []
        self.update_data()

    def action_drill(self) -> None:
        self.mapp.open_graph(self.selected_node())

    def action_graph(self) -> None:
        self.mapp.open_graph(self.selected_node())

    def action_proxy(self) -> None:
        n = self.selected_node()
        if n:
            self.mapp.open_proxy(n)

    def apply_filter(self, text: str) -> None:
        self.filter_text = text
        self._keys = []
        self.update_data()


# -------------------------------------------------------------------------------------------------- graph
class GraphScreen(_Base):
    """The live traffic graph in the terminal plus the selected node's detail panel."""

    BINDINGS = [
        Binding("left", "move('left')", "←", show=False),
        Binding("right", "move('right')", "→", show=False),
        Binding("up", "move('up')", "↑", show=False),
        Binding("down", "move('down')", "↓", show=False),
        Binding("tab", "move('next')", "Next node"),
        Binding("shift+tab", "move('prev')", "Prev node", show=False),
        Binding("t", "cycle_type", "Graph type"),
        Binding("n", "toggle_service_nodes", "Service nodes"),
        Binding("h", "hide_prompt", "Hide"),
        Binding("x", "clear", "Clear find/hide"),
        Binding("enter", "drill", "Proxy config"),
    ]

    DEFAULT_CSS = """
    GraphScreen #body { height: 1fr; }
    GraphScreen #detail { width: 48; border-left: solid $primary; padding: 0 1; }
    """

    def __init__(self, focus: str | None = None, graph_type: str = "workload") -> None:
        super().__init__()
        self.focus_node = focus
        self.graph_type = graph_type
        self.service_nodes = True
        self.find_expr: str | None = None
        self.hide_expr: str | None = None
        self.message = ""

    def compose(self) -> ComposeResult:
        yield Header(id="status")
        with Horizontal(id="body"):
            yield GraphCanvas(id="canvas", prefer_dot=self.mapp.prefer_dot)
            with VerticalScroll(id="detail"):
                yield Static(id="detail-body")
                yield Static(legend(), id="legend")
        yield Footer()

    def on_mount(self) -> None:
        self.update_data()
        canvas = self.query_one(GraphCanvas)
        if self.focus_node:
            canvas.select(self._map_focus(self.focus_node))
        canvas.focus()
        self._update_detail()

    def _map_focus(self, node: str) -> str:
        """A workload id still finds its app/versionedApp/service node in aggregated views."""
        g = self.query_one(GraphCanvas).graph
        if node in g:
            return node
        for n, d in g.nodes(data=True):
            if node in d.get("members", []):
                return n
        return node

    def current_graph(self) -> Any:
        snap = self.mapp.snapshot
        if snap is None:
            return None
        g = view(snap.graph, self.graph_type, self.service_nodes)
        if self.hide_expr:
            g = findhide.hide(g, self.hide_expr)
        return g

    def update_data(self) -> None:
        g = self.current_graph()
        canvas = self.query_one(GraphCanvas)
        bits = [f"graph {self.graph_type}" + ("" if self.service_nodes else " (no service nodes)")]
        if self.find_expr:
            bits.append(f"find {self.find_expr}")
        if self.hide_expr:
            bits.append(f"hide {self.hide_expr}")
        if self.message:
            bits.append(self.message)
        self.query_one("#status", Header).update(self.status_text(" · ".join(bits)))
        if g is None:
            return
        canvas.found = findhide.find(g, self.find_expr)[0] if self.find_expr else set()
        if self.find_expr:
            _, edges = findhide.find(g, self.find_expr)
            canvas.found |= {a for a, _ in edges} | {b for _, b in edges}
        canvas.set_graph(g)
        self._update_detail()

    def _update_detail(self) -> None:
        canvas = self.query_one(GraphCanvas)
        self.query_one("#detail-body", Static).update(node_detail(canvas.graph, canvas.selected))

    def action_move(self, direction: str) -> None:
        self.query_one(GraphCanvas).move(direction)
        self._update_detail()

    def action_cycle_type(self) -> None:
        sel = self.query_one(GraphCanvas).selected
        self.graph_type = GRAPH_TYPES[(GRAPH_TYPES.index(self.graph_type) + 1) % len(GRAPH_TYPES)]
        self.update_data()
        if sel:
            snap = self.mapp.snapshot
            members = snap.graph.nodes[sel].get("members", [sel]) if snap is not None and sel in snap.graph else [sel]
            self.query_one(GraphCanvas).select(self._map_focus(members[0] if members else sel))
            self._update_detail()

    def action_toggle_service_nodes(self) -> None:
        """Kiali's "service nodes" option: fold called services into direct workload -> workload edges."""
        self.service_nodes = not self.service_nodes
        self.update_data()

    def apply_filter(self, text: str) -> None:
        """``/`` on the graph is Kiali's Find."""
        self.set_expr("find", text)

    def set_expr(self, which: str, text: str) -> None:
        text = text.strip()
        try:
            if text:
                findhide.parse(text)
            self.message = ""
        except MeshctlError as e:
            self.message = f"[bad expression: {e.message}]"
            self.notify(e.message, severity="error")
            self.update_data()
            return
        if which == "find":
            self.find_expr = text or None
        else:
            self.hide_expr = text or None
        self.update_data()

    def action_hide_prompt(self) -> None:
        self.app.push_screen(PromptScreen("hide", self.hide_expr or ""), lambda t: self.set_expr("hide", t or ""))

    def action_clear(self) -> None:
        self.find_expr = self.hide_expr = None
        self.message = ""
        self.update_data()

    def action_drill(self) -> None:
        sel = self.query_one(GraphCanvas).selected
        if sel:
            self.mapp.open_proxy(sel)


# ---------------------------------------------------------------------------------------------- resources
class ResourcesScreen(_Base):
    """Istio/Kubernetes resources of one kind (``:vs``, ``:dr``, ``:gw``, ``:se``), Enter shows the YAML."""

    BINDINGS = [Binding("enter", "open", "YAML")]

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.filter_text = ""
        self._res: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Header(id="status")
        yield DataTable(id="resources", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for c in ("NAMESPACE", "NAME", "HOSTS", "SOURCE"):
            t.add_column(c, key=c)
        self.update_data()

    def update_data(self) -> None:
        snap = self.mapp.snapshot
        self.query_one("#status", Header).update(self.status_text(f"{self.kind}{' /' + self.filter_text if self.filter_text else ''}"))
        if snap is None:
            return
        res = sorted((r for r in snap.resources if r.kind == self.kind), key=lambda r: (r.namespace or "", r.name))
        if self.filter_text:
            res = [r for r in res if self.filter_text.lower() in f"{r.namespace}/{r.name}".lower()]
        if [id(r) for r in res] == [id(r) for r in self._res]:
            return
        self._res = res
        t = self.query_one(DataTable)
        t.clear()
        for i, r in enumerate(res):
            spec = r.spec if isinstance(r.spec, dict) else {}
            hosts = spec.get("hosts") or ([spec["host"]] if spec.get("host") else [])
            if r.kind == "Gateway":
                hosts = sorted({h for s in spec.get("servers") or [] if isinstance(s, dict) for h in s.get("hosts") or []})
            where = f"{display_path(r.file)}:{r.line}" if r.file else ""
            t.add_row(r.namespace or "", r.name, ",".join(map(str, hosts))[:50], where, key=str(i))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        t = self.query_one(DataTable)
        if self._res and t.cursor_row is not None and t.cursor_row < len(self._res):
            self.app.push_screen(YamlScreen(self._res[t.cursor_row]))

    def apply_filter(self, text: str) -> None:
        self.filter_text = text
        self._res = []
        self.update_data()


class YamlScreen(_Base):
    """One resource's YAML with line numbers; ``line`` is highlighted (a finding's field)."""

    def __init__(self, resource: Any, line: int | None = None) -> None:
        super().__init__()
        self.resource = resource
        self.line = line

    def compose(self) -> ComposeResult:
        r = self.resource
        yield Header(f"{r.ref}  {display_path(r.file or '')}{':' + str(self.line or r.line) if r.file else ''}", id="status")
        text, first = self._text()
        with VerticalScroll(id="yaml"):
            yield Static(Syntax(text, "yaml", line_numbers=True, start_line=first,
                                highlight_lines={self.line} if self.line else None, theme="ansi_dark"))
        yield Footer()

    def _text(self) -> tuple[str, int]:
        r = self.resource
        if r.file and os.path.isfile(r.file) and r.line:
            with open(r.file, encoding="utf-8", errors="replace") as fh:
                lines = fh.read().splitlines()
            start = r.line - 1
            while start > 0 and lines[start - 1].strip() not in ("---", "") and not lines[start - 1].startswith("#"):
                start -= 1
            end = start + 1
            while end < len(lines) and lines[end].strip() != "---":
                end += 1
            return "\n".join(lines[start:end]), start + 1
        from meshctl.cli.output import to_yaml

        return to_yaml(r.obj), 1


# ----------------------------------------------------------------------------------------------- proxy
class ProxyScreen(_Base):
    """Clusters / listeners / routes of one proxy as a tree, with the owning VS/DR (istio.config)."""

    DEFAULT_CSS = """
    ProxyScreen #pbody { height: 1fr; }
    ProxyScreen Tree { width: 3fr; }
    ProxyScreen #pdetail { width: 2fr; border-left: solid $primary; }
    """
    BINDINGS = [Binding("d", "diff", "Diff intended/actual"), Binding("e", "explain", "Explain")]

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target
        self.error = ""
        self.where = ""

    def compose(self) -> ComposeResult:
        yield Header(f"proxy {self.target} · loading…", id="status")
        with Horizontal(id="pbody"):
            yield Tree(self.target, id="ptree")
            with VerticalScroll(id="pdetail"):
                yield Static(id="pdetail-body")
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self._load, thread=True, exclusive=True)

    def _load(self) -> None:
        from meshctl.tui.proxytree import build_tree

        try:
            dump, where = self.mapp.proxy_dump(self.target)
            root = build_tree(dump, self.target)
            self.app.call_from_thread(self._show, root, where)
        except MeshctlError as e:
            self.app.call_from_thread(self._fail, str(e), e.hints)
        except Exception as e:  # noqa: BLE001 - show, do not crash the TUI
            self.app.call_from_thread(self._fail, f"{type(e).__name__}: {e}", [])

    def _show(self, root: Any, where: str) -> None:
        self.where = where
        self.query_one("#status", Header).update(f"proxy {self.target} · {where} · d diff · e explain")
        tree = self.query_one(Tree)
        tree.clear()
        tree.root.set_label(root.label)

        def add(parent: Any, node: Any) -> None:
            for c in node.children:
                label = Text(c.label)
                if c.owner:
                    label.stylize("cyan", max(0, len(c.label) - len(c.owner) - 2))
                child = parent.add(label, data=c, expand=False) if c.children else parent.add_leaf(label, data=c)
                add(child, c)

        add(tree.root, root)
        tree.root.expand()
        tree.focus()

    def _fail(self, message: str, hints: list[str]) -> None:
        self.error = message
        self.query_one("#status", Header).update(f"proxy {self.target} · unavailable")
        self.query_one("#pdetail-body", Static).update(Text(message + "".join(f"\nhint: {h}" for h in hints), style="red"))

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Any]) -> None:
        data = event.node.data
        if data is not None:
            body = (f"owner: {data.owner}\n\n" if data.owner else "") + (data.detail or "")
            self.query_one("#pdetail-body", Static).update(Syntax(body, "json", theme="ansi_dark", word_wrap=True))

    def action_diff(self) -> None:
        self.app.push_screen(DiffScreen(self.target))

    def action_explain(self) -> None:
        def go(text: str | None) -> None:
            if text:
                url, *headers = text.split()
                self.app.push_screen(ExplainScreen(self.target, url, tuple(headers)))

        self.app.push_screen(PromptScreen("explain URL [Header:value ...]", "http://"), go)


# ---------------------------------------------------------------------------------------------- findings
class FindingsScreen(_Base):
    """Analyzer findings (``meshctl.analyze``); Enter jumps to the resource's YAML at the field's line."""

    BINDINGS = [Binding("enter", "open", "Go to resource")]

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Header(id="status")
        yield DataTable(id="findings", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for c in ("LEVEL", "CODE", "RESOURCE", "MESSAGE", "WHERE"):
            t.add_column(c, key=c)
        self.update_data()

    def update_data(self) -> None:
        snap = self.mapp.snapshot
        if snap is None:
            return
        try:
            self.messages = self.mapp.findings()
            self.error = ""
        except MeshctlError as e:
            self.messages, self.error = [], str(e)
        self.query_one("#status", Header).update(self.status_text(
            f"findings: {len(self.messages)}" + (f" · {self.error}" if self.error else "")))
        t = self.query_one(DataTable)
        t.clear()
        for i, m in enumerate(self.messages):
            lvl = str(getattr(m.level, "name", m.level))
            style = {"ERROR": "bold red", "WARNING": "yellow"}.get(lvl.upper(), "")
            where = f"{display_path(m.origin_file or (m.resource.file if m.resource else '') or '')}:{self._line(m) or ''}"
            t.add_row(Text(lvl, style=style), m.code, m.origin, m.text[:90], where, key=str(i))

    @staticmethod
    def _line(m: Any) -> int | None:
        if m.resource is not None:
            if m.path:
                pos = m.resource.pos(m.path)
                if pos.line:
                    return int(pos.line)
            return m.resource.line  # type: ignore[no-any-return]
        return m.origin_line  # type: ignore[no-any-return]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        t = self.query_one(DataTable)
        if self.messages and t.cursor_row is not None and t.cursor_row < len(self.messages):
            m = self.messages[t.cursor_row]
            if m.resource is not None:
                self.app.push_screen(YamlScreen(m.resource, self._line(m)))


# -------------------------------------------------------------------------------------------- diff/explain
class _TextScreen(_Base):
    title_text = ""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target
        self.body = ""

    def compose(self) -> ComposeResult:
        yield Header(f"{self.title_text} {self.target} · working…", id="status")
        with VerticalScroll():
            yield Static(id="text-body")
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self._work, thread=True, exclusive=True)

    def _work(self) -> None:
        try:
            text, status = self.compute()
        except MeshctlError as e:
            text, status = str(e) + "".join(f"\nhint: {h}" for h in e.hints), "unavailable"
        except Exception as e:  # noqa: BLE001
            text, status = f"{type(e).__name__}: {e}", "failed"
        self.app.call_from_thread(self._show, text, status)

    def _show(self, text: str, status: str) -> None:
        self.body = text
        self.query_one("#status", Header).update(f"{self.title_text} {self.target} · {status}")
        self.query_one("#text-body", Static).update(Text(text))

    def compute(self) -> tuple[str, str]:
        raise NotImplementedError


class DiffScreen(_TextScreen):
    """Intended (embedded translator) vs actual (live admin) config of one proxy (``meshctl.envoy.diff``)."""

    title_text = "diff"

    def compute(self) -> tuple[str, str]:
        return self.mapp.proxy_diff(self.target)


class ExplainScreen(_TextScreen):
    """The request ``explain`` walk for a proxy (``meshctl.envoy.explain``): listener, chain, route, cluster."""

    title_text = "explain"

    def __init__(self, target: str, url: str = "", headers: tuple[str, ...] = ()) -> None:
        super().__init__(target)
        self.url = url
        self.headers = headers

    def compute(self) -> tuple[str, str]:
        return self.mapp.proxy_explain(self.target, self.url, self.headers)


# ----------------------------------------------------------------------------------------------- modals
HELP = """\
[b]meshctl tui[/b] — k9s-style keys

  [b]:[/b]        command bar: :svc :wl :gw :all  :vs :dr :gateway :se  :graph [type]
           :proxy NAME  :diff NAME  :explain NAME URL [Header:value]  :findings  :q
  [b]/[/b]        filter (overview/resources) · Kiali find expression (graph)
  [b]?[/b]        this help            [b]Esc[/b]  back           [b]q[/b]  quit
  [b]Enter[/b]    drill in (row -> graph -> proxy config)
  [b]ctrl+p[/b]   Textual command palette

  Overview   s next sort column · r reverse · click a header to sort · g graph · p proxy
  Graph      arrows / Tab select · t graph type · n service nodes on/off · h hide · x clear · Enter proxy config
  Proxy      d intended-vs-actual diff · e explain
  Find/hide  name = reviews · ns = default AND %httperr > 5 · rt > 100 · !traffic · trafficshifting
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = "HelpScreen { align: center middle; } HelpScreen > Vertical { width: 96; height: auto; border: thick $primary; background: $surface; padding: 1 2; }"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(HELP)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class PromptScreen(ModalScreen[str | None]):
    """A one-line prompt docked at the bottom (``:`` commands, ``/`` filters, hide expressions)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PromptScreen { align: left bottom; background: $background 0%; }
    PromptScreen > Horizontal { height: 3; dock: bottom; background: $surface; }
    PromptScreen Label { padding: 1 0 0 1; width: auto; }
    PromptScreen Input { width: 1fr; }
    """

    def __init__(self, prompt: str, value: str = "") -> None:
        super().__init__()
        self.prompt = prompt
        self.value = value

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.prompt)
            yield Input(value=self.value, id="prompt-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
