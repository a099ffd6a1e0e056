"""Duplicate resources (same kind, namespace, name) across inputs: the last definition wins, as with kubectl apply
and as the analyzer's MSH0009 says; translate and x model warn once per dropped definition (QA issue 2 #2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import BOOKINFO

from meshctl.model import build_mesh
from meshctl.sources import load_paths
from meshctl.translate import translate

DUP = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {prefix: /dup}}]
    route:
    - destination: {host: ratings, subset: v1}
"""


def _dup(tmp_path: Path) -> Path:
    f = tmp_path / "dup.yaml"
    f.write_text(DUP)
    return f


def _has_dup_route(mesh: Any) -> bool:
    pc = translate(mesh, mesh.proxy("deploy/productpage-v1"))
    return any(r.match.prefix == "/dup" for rc in pc.routes for vh in rc.virtual_hosts for r in vh.routes)


def test_last_definition_wins_whatever_the_order(tmp_path: Path) -> None:
    dup = _dup(tmp_path)
    later = build_mesh(load_paths([str(BOOKINFO), str(dup)]))
    assert [c.key for c in later.virtual_services].count("default/ratings") == 1
    assert _has_dup_route(later)
    (d,) = later.duplicates
    assert (d.kept.file, d.dropped.file) == (str(dup), str(BOOKINFO / "routing.yaml"))
    assert d.dropped.ref == "VirtualService default/ratings"
    assert later.resources.count(d.kept) == 1 and d.dropped not in later.resources

    earlier = build_mesh(load_paths([str(dup), str(BOOKINFO)]))
    assert not _has_dup_route(earlier)  # bookinfo's ratings VS came last
    assert [c.key for c in earlier.virtual_services].count("default/ratings") == 1


def test_commands_warn_once_per_duplicate(cli: Any, tmp_path: Path) -> None:
    dup = _dup(tmp_path)
    for args in (
        ["translate", "--proxy", "deploy/productpage-v1", "--type", "route"],
        ["x", "model"],
    ):
        code, out, err = cli([*args, "-f", str(BOOKINFO), "-f", str(dup)])
        assert code == 0, err
        warnings = [line for line in err.splitlines() if line.startswith("Warning:")]
        assert len(warnings) == 1, err
        assert warnings[0].startswith(f"Warning: {BOOKINFO / 'routing.yaml'}:")
        assert "VirtualService default/ratings is defined more than once" in warnings[0]
        assert f"{dup}:1 replaces" in warnings[0]
        if args[0] == "translate":
            assert '"/dup"' in out
        else:
            assert "default/ratings,default/ratings" not in out
