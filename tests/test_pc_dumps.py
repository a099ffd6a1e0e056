"""Dumps that are not clean: malformed, truncated, huge, from other Envoy/Istio versions. Clear errors naming
file/line, or partial results with warnings -- never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli

from meshctl.envoy.dump import ConfigDump, load_dump
from meshctl.errors import InputError

PC = FIXTURES / "pc"
DUMP = PC / "sidecar_dump.json"


def test_truncated_dump_names_line_and_column(tmp_path: Path) -> None:
    text = DUMP.read_text()
    bad = tmp_path / "cut.json"
    bad.write_text(text[: len(text) // 2])
    code, out, err = run_cli(["pc", "cluster", "--file", str(bad)])
    assert code == 65
    assert err.startswith(f"Error: {bad}:") and "truncated JSON" in err
    assert "Traceback" not in err and out == ""


def test_malformed_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "configs": [\n    {"@type": "x",, }\n  ]\n}\n')
    code, _, err = run_cli(["pc", "listener", "--file", str(bad)])
    assert code == 65
    assert f"{bad}:3:" in err and "malformed JSON" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty input"),
        ("[1, 2]", "not an Envoy config dump"),
        ('{"foo": 1}', "no 'configs' list"),
        ('{"configs": 5}', "'configs' must be a list"),
        ("\x00\x01\xff", "not UTF-8"),
    ],
)
def test_not_a_dump(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "x.json"
    bad.write_bytes(content.encode("latin-1"))
    code, _, err = run_cli(["pc", "route", "--file", str(bad)])
    assert code == 65, err
    assert message in err


def test_missing_file_and_directory(tmp_path: Path) -> None:
    code, _, err = run_cli(["pc", "cluster", "--file", str(tmp_path / "nope.json")])
    assert code == 65 and "no such file" in err
    code, _, err = run_cli(["pc", "cluster", "--file", str(tmp_path)])
    assert code == 65 and "is a directory" in err


def test_missing_section_is_reported_like_istioctl() -> None:
    d = json.loads(DUMP.read_text())
    d["configs"] = [c for c in d["configs"] if "Routes" not in c["@type"]]
    code, _, err = run_cli(["pc", "route", "--file", "-"], input=json.dumps(d))
    assert code == 65 and "config dump has no configuration type routes" in err


def test_unknown_envoy_version_partial_results_with_warnings() -> None:
    d = json.loads(DUMP.read_text())
    # a section type this Envoy does not know, a filter type nobody knows, a field from the future
    d["configs"].append({"@type": "type.googleapis.com/envoy.admin.v9.FancyConfigDump", "things": []})
    lis = next(c for c in d["configs"] if "Listeners" in c["@type"])
    chain = lis["dynamic_listeners"][0]["active_state"]["listener"]["filter_chains"][0]
    chain["filters"].insert(
        0,
        {
            "name": "io.future.filter",
            "typed_config": {"@type": "type.googleapis.com/io.future.v1.Filter", "knob": 3},
        },
    )
    cl = next(c for c in d["configs"] if "Clusters" in c["@type"])
    cl["dynamic_active_clusters"][0]["cluster"]["future_field"] = {"x": 1}
    # and one cluster that is plainly broken (a value that is not a duration)
    cl["dynamic_active_clusters"][1]["cluster"]["connect_timeout"] = "ten seconds"
    text = json.dumps(d)
    code, out, err = run_cli(["pc", "listener", "--file", "-"], input=text)
    assert code == 0, err
    assert "Route: 9080" in out
    assert "unknown config dump section" in err and "io.future.v1.Filter" in err
    code, out, err = run_cli(["pc", "cluster", "--file", "-"], input=text)
    assert code == 0
    assert "cannot parse as Cluster" in err and "dynamic_active_clusters[1]" in err
    assert (
        out.count("\n") == (PC / "golden" / "cluster.txt").read_text().count("\n") - 1
    )  # one cluster skipped


def test_v2_dump_is_retagged() -> None:
    """Envoy 1.1x / Istio 1.5 era dumps: v2alpha sections and v2 resource type URLs."""
    v2 = {
        "configs": [
            {
                "@type": "type.googleapis.com/envoy.admin.v2alpha.ClustersConfigDump",
                "dynamic_active_clusters": [
                    {
                        "version_info": "1",
                        "cluster": {
                            "@type": "type.googleapis.com/envoy.api.v2.Cluster",
                            "name": "outbound|9080||reviews.default.svc.cluster.local",
                            "type": "EDS",
                            "hosts": [],
                            "metadata": {
                                "filter_metadata": {
                                    "istio": {
                                        "config": "/apis/networking.istio.io/v1alpha3/namespaces/default/destination-rule/reviews"
                                    }
                                }
                            },
                        },
                    }
                ],
            },
            {
                "@type": "type.googleapis.com/envoy.admin.v2alpha.ListenersConfigDump",
                "dynamic_active_listeners": [
                    {
                        "listener": {
                            "@type": "type.googleapis.com/envoy.api.v2.Listener",
                            "name": "0.0.0.0_9080",
                            "address": {"socket_address": {"address": "0.0.0.0", "port_value": 9080}},
                            "filter_chains": [
                                {
                                    "filters": [
                                        {
                                            "name": "envoy.filters.network.http_connection_manager",
                                            "typed_config": {
                                                "@type": "type.googleapis.com/envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager",
                                                "stat_prefix": "x",
                                                "rds": {"route_config_name": "9080"},
                                            },
                                        }
                                    ]
                                }
                            ],
                        }
                    }
                ],
            },
        ]
    }
    code, out, err = run_cli(["pc", "cluster", "--file", "-"], input=json.dumps(v2))
    assert code == 0, err
    assert (
        "reviews.default.svc.cluster.local     9080     -          outbound      EDS      reviews.default"
        in out
    )
    code, out, err = run_cli(["pc", "listener", "--file", "-"], input=json.dumps(v2))
    assert code == 0, err
    assert "Route: 9080" in out


def test_camelcase_dump_reads_like_snake_case() -> None:
    """Dumps re-serialized by tools (istioctl -o json) use camelCase names."""
    d = json.loads(DUMP.read_text())
    dump_snake = load_dump(json.dumps(d))
    from meshctl.envoy.dump import to_json_dict

    camel = {"configs": []}
    for c in d["configs"]:
        if "Clusters" in c["@type"]:
            camel["configs"].append(
                {
                    "@type": c["@type"],
                    "dynamicActiveClusters": [
                        {
                            "versionInfo": w["version_info"],
                            "cluster": {
                                "@type": w["cluster"]["@type"],
                                **to_json_dict(dump_snake.message(it)),
                            },
                        }
                        for w, it in zip(
                            c["dynamic_active_clusters"], dump_snake.of("cluster", ("active",)), strict=True
                        )
                    ],
                }
            )
    dump_camel = ConfigDump(camel)
    assert [it.name for it in dump_camel.of("cluster")] == [
        it.name for it in dump_snake.of("cluster", ("active",))
    ]
    assert [dump_camel.message(it) for it in dump_camel.of("cluster")] == [
        dump_snake.message(it) for it in dump_snake.of("cluster", ("active",))
    ]


def test_load_dump_errors_are_input_errors() -> None:
    with pytest.raises(InputError) as e:
        load_dump('{"configs": [', "x.json")
    assert e.value.file == "x.json" and e.value.line == 1


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_huge_dump(tmp_path: Path) -> None:
    """A 100 MB dump (a big mesh: mostly EDS) answers ``pc cluster`` without decoding the endpoints; the same
    dump cut short still does, with a warning, while ``pc eds`` reports the truncation."""
    d = json.loads(DUMP.read_text())
    eds = next(c for c in d["configs"] if "Endpoints" in c["@type"])
    lb = eds["dynamic_endpoint_configs"][3]["endpoint_config"]["endpoints"][0]["lb_endpoints"][0]
    lbs_text = json.dumps([lb] * 400)
    path = tmp_path / "huge.json"
    head = json.dumps(d)
    with path.open("w") as fh:
        fh.write(head[: head.rindex("]")])  # keep "configs" open
        fh.write(
            ', {"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump", "dynamic_endpoint_configs": ['
        )
        n = size = 0
        while size < 100_000_000:
            chunk = ("," if n else "") + (
                '{"endpoint_config": {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", '
                f'"cluster_name": "outbound|80||svc-{n}.big.svc.cluster.local", "endpoints": [{{"lb_endpoints": {lbs_text}}}]}}}}'
            )
            fh.write(chunk)
            size += len(chunk)
            n += 1
        fh.write("]}]}")
    assert path.stat().st_size > 100_000_000
    code, out, err = run_cli(["pc", "cluster", "--file", str(path), "--fqdn", "reviews"])
    assert code == 0, err
    assert out.count("reviews.default.svc.cluster.local") == 4

    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size - 5000)
    code, out, err = run_cli(["pc", "cluster", "--file", str(path), "--fqdn", "reviews"])
    assert code == 0 and out.count("reviews.default.svc.cluster.local") == 4
    assert "looks truncated" in err
    code, out, err = run_cli(["pc", "eds", "--file", str(path), "--cluster", "x"])
    assert code == 65 and "truncated" in err and "Traceback" not in err


def test_envoy_1_6_era_dump() -> None:
    """Envoy < 1.7: ``configs`` keyed by name, v2alpha sections, camelCase, filters with untyped ``config``."""
    dump = str(PC / "envoy_1_6_dump.json")
    code, out, err = run_cli(["pc", "listener", "--file", dump])
    assert code == 0, err
    assert out.splitlines()[1:] == [
        "172.21.134.116 443  ALL   Cluster: outbound|443||istio-galley.istio-system.svc.cluster.local",
        "0.0.0.0        8080 ALL   Route: 8080",
    ]
    code, out, err = run_cli(["pc", "cluster", "--file", dump])
    assert code == 0, err
    assert [ln.split() for ln in out.splitlines()[1:]] == [
        ["istio-policy.istio-system.svc.cluster.local", "15004", "-", "outbound", "EDS"],
        ["xds-grpc", "-", "-", "-", "STRICT_DNS"],
    ]
