"""The translator is a pure function of (model, proxy): translating a proxy again -- after translating every
other proxy, after the model was rebuilt from changed config (what the xDS server and the demo do on every
push) -- gives byte-identical protos. A cached or module-level message that one translation touches (in upb,
even ``extend([])`` on a sub-message's repeated field gives it presence) would show up here as a difference."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BOOKINFO, ROOT

from meshctl.model import build_mesh
from meshctl.sources import load_paths
from meshctl.translate import translate

CHANGES = ROOT / "meshctl" / "examples" / "bookinfo-changes"


def _bytes(pc: Any) -> list[tuple[str, bytes]]:
    return [
        (kind, m.SerializeToString(deterministic=True))
        for kind in ("clusters", "endpoints", "listeners", "routes")
        for m in getattr(pc, kind)
    ]


@pytest.mark.parametrize("loopback", [False, True], ids=["istio", "loopback"])
def test_same_proxy_twice_is_byte_identical(loopback: bool) -> None:
    mesh = build_mesh(load_paths([str(BOOKINFO)]))
    proxies = [dataclasses.replace(p, loopback=loopback) for p in mesh.proxies()]
    first = {p.id: _bytes(translate(mesh, p)) for p in proxies}
    for p in reversed(proxies):  # every other proxy was translated in between
        assert _bytes(translate(mesh, p)) == first[p.id], p.id


def test_rebuilt_model_translates_like_a_fresh_one(tmp_path: Path) -> None:
    """The demo's sequence: bookinfo, then two VirtualService changes; the last translation must equal a fresh
    translation of the final config (in loopback bind mode, as the demo serves it)."""
    work = tmp_path / "mesh"
    shutil.copytree(BOOKINFO, work)
    routing = work / "routing.yaml"
    docs = [d for d in yaml.safe_load_all(routing.read_text()) if d]
    routing.write_text(  # VS default/reviews now comes from the change files only
        yaml.safe_dump_all(
            [d for d in docs if (d["kind"], d["metadata"]["name"]) != ("VirtualService", "reviews")]
        )
    )
    steps = [BOOKINFO / "routing.yaml", CHANGES / "reviews-v3.yaml", CHANGES / "reviews-50-v3.yaml"]
    seen: dict[str, list[tuple[str, bytes]]] = {}
    versions = set()  # productpage's config per step: each change must really change it
    for step in steps:
        vs = [d for d in yaml.safe_load_all(step.read_text()) if d and d["kind"] == "VirtualService"]
        (work / "reviews-vs.yaml").write_text(
            yaml.safe_dump_all([v for v in vs if v["metadata"]["name"] == "reviews"])
        )
        mesh = build_mesh(load_paths([str(work)]))
        for p in mesh.proxies():
            seen[p.id] = _bytes(translate(mesh, dataclasses.replace(p, loopback=True)))
            if p.workload.name.startswith("productpage"):
                versions.add(tuple(seen[p.id]))
    assert len(versions) == len(steps)
    fresh_mesh = build_mesh(load_paths([str(work)]))
    for p in fresh_mesh.proxies():
        assert _bytes(translate(fresh_mesh, dataclasses.replace(p, loopback=True))) == seen[p.id], p.id
