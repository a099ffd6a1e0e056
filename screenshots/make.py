"""Render the TUI's main screens from a real demo-mesh run into screenshots/*.svg (and *.png when possible).

Starts ``meshctl demo`` (7 real Envoys, meshctl's xDS server) on a free loopback subnet with its own load
generator driving product pages through the ingress gateway (``--rate``; every 4th request with
``end-user: jason`` -> reviews v2), attaches the TUI to the demo's proxies and saves each screen. PNGs need
``rsvg-convert`` (``apt-get install librsvg2-bin``); the SVGs name the Fira Code font, which is swapped for
DejaVu Sans Mono when converting so box drawing lines up.

    .venv/bin/python screenshots/make.py [--out screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SIZE = (180, 46)  # the graph canvas (width minus the 48-column detail panel) fits reviews, its caller and callees
RATE = "10"  # product pages a second through the ingress gateway


def to_png(svg: Path) -> Path | None:
    exe = shutil.which("rsvg-convert")
    if exe is None:
        return None
    text = svg.read_text()
    text = text.replace("Fira Code", "DejaVu Sans Mono").replace("<svg ", '<svg xml:space="preserve" ', 1)
    text = text.replace("&#160;", " ")
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False) as fh:
        fh.write(text)
    png = svg.with_suffix(".png")
    try:
        subprocess.run([exe, "-o", str(png), fh.name], check=True, timeout=60)
    finally:
        os.unlink(fh.name)
    return png


async def shoot(info: dict, out: Path) -> list[Path]:
    from meshctl.graph.source import make_source
    from meshctl.tui.app import MeshApp
    from meshctl.tui.widgets import GraphCanvas

    src = make_source(demo=True, status_file=info["status_file"])
    src.prime()
    app = MeshApp(src, interval=1.0)
    saved: list[Path] = []

    def save(name: str) -> None:
        path = out / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(out))
        saved.append(path)

    async with app.run_test(size=SIZE) as pilot:

        async def screen(command: str, name: str, pause: float, then: Callable[[], None] | None = None) -> None:
            """``:command``, wait for its worker and the refreshes, optionally adjust, save, go back."""
            app.run_command(command)
            await app.workers.wait_for_complete()
            await pilot.pause(pause)
            if then is not None:
                then()
                await pilot.pause(0.5)
            save(name)
            app.action_go_back()

        async def graph_at(node: str, name: str, pause: float) -> None:
            canvas.select(node)
            app.screen._update_detail()
            await pilot.pause(pause)
            save(name)

        await pilot.pause(3.5)  # a few refreshes: rates and latency quantiles settle
        save("overview")
        app.run_command("graph")
        await pilot.pause(2.5)
        canvas = app.screen.query_one(GraphCanvas)
        # the ingress path from the first column: callers outside the mesh -> gateway -> productpage-v1 (Kiali's
        # service nodes off, so productpage's own calls start in view next to the detail panel)
        app.screen.action_toggle_service_nodes()
        await graph_at("wl:istio-system/istio-ingressgateway", "graph", 0.5)
        app.screen.action_toggle_service_nodes()
        app.screen.action_cycle_type()
        app.screen.action_cycle_type()
        await graph_at("svc:default/reviews", "graph-versioned-app", 1.5)
        app.action_go_back()

        def expand_routes_and_clusters() -> None:
            for node in app.screen.query_one("Tree").root.children[1:3]:
                node.expand()

        await screen("proxy productpage-v1", "proxy-config", 1.0, expand_routes_and_clusters)
        await screen("findings", "findings", 2.0)
        await screen("diff productpage-v1", "diff", 1.0)
        await screen("vs", "virtual-services", 0.5)
        app.action_help()
        await pilot.pause(0.5)
        save("help")
    return saved


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from behaviour.harness import free_subnet

    from meshctl.demo.launch import demo_process

    tmp = Path(tempfile.mkdtemp(prefix="meshctl-shots-"))
    demo_args = ["--subnet", str(free_subnet()), "--rate", RATE, "--log-level", "error"]
    try:
        with demo_process(tmp / "demo.json", demo_args) as demo:
            info = {**demo.info, "status_file": str(demo.status_file)}
            time.sleep(2.0)  # the load generator has been running: every proxy has counters
            saved = asyncio.run(shoot(info, out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for svg in saved:
        # Textual stamps a random id into each SVG's CSS class names; keep files stable between runs.
        text = re.sub(r"terminal-\d+-", "terminal-", svg.read_text())
        svg.write_text(text)
        png = to_png(svg)
        print(f"wrote {svg.relative_to(ROOT) if svg.is_relative_to(ROOT) else svg}" + (f" and {png.name}" if png else ""))
    print(f"{len(saved)} screens saved to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
