"""Wrong types anywhere in otherwise valid inputs: every analyzer copes (no IST0001 internal error, no traceback)."""

from __future__ import annotations

import copy
import random

from conftest import BOOKINFO, FIXTURES

from meshctl.analyze import analyze
from meshctl.sources import load_paths
from meshctl.sources.resource import Resource

JUNK = [None, 1, "x", [], {}, [1, "a"], {"a": [None]}, True, -5, 3.5, "*", {"matchLabels": 3}]


def _mutate(rng: random.Random, o: object, depth: int = 0) -> None:
    if isinstance(o, dict) and o:
        k = rng.choice(list(o))
        if rng.random() < 0.4 or depth > 6:
            o[k] = rng.choice(JUNK)
        else:
            _mutate(rng, o[k], depth + 1)
    elif isinstance(o, list) and o:
        i = rng.randrange(len(o))
        if rng.random() < 0.4 or depth > 6:
            o[i] = rng.choice(JUNK)
        else:
            _mutate(rng, o[i], depth + 1)


def test_mutated_inputs_never_crash_an_analyzer() -> None:
    base = load_paths([str(BOOKINFO), str(FIXTURES / "analyze" / "mesh.yaml")], default_namespace="")
    rng = random.Random(20261122)
    for _ in range(25):
        rs = []
        for r in base:
            obj = copy.deepcopy(dict(r.obj))
            for key in ("spec", "metadata", "status"):
                if rng.random() < 0.35 and isinstance(obj.get(key), (dict, list)):
                    _mutate(rng, obj[key])
            rs.append(Resource(r.api_version, r.kind, r.name, r.namespace, obj, file=r.file, line=r.line, index=r.index))
        crashes = [m.text for m in analyze(rs).messages if m.code == "IST0001"]
        assert crashes == []
