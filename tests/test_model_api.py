"""Typed Istio API models: field names/aliases, protojson-like scalars, durations, and precise errors."""

from __future__ import annotations

import pytest

from meshctl.errors import ErrorList, InputError
from meshctl.model.api import DestinationRule, MeshConfig, VirtualService, parse_duration, validate
from meshctl.sources import load_text


def one(text: str, name: str = "t.yaml"):  # noqa: ANN201
    return load_text(text, name)[0]


VS_HEAD = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: default}
spec:
"""


def test_camel_and_snake_names_both_accepted() -> None:
    a = VirtualService.model_validate(
        {
            "hosts": ["a"],
            "http": [{"route": [{"destination": {"host": "a"}}], "corsPolicy": {"allowMethods": ["GET"]}}],
        }
    )
    b = VirtualService.model_validate(
        {
            "hosts": ["a"],
            "http": [{"route": [{"destination": {"host": "a"}}], "cors_policy": {"allow_methods": ["GET"]}}],
        }
    )
    assert a == b
    assert a.http[0].cors_policy.allow_methods == ["GET"]
    dr = DestinationRule.model_validate(
        {
            "host": "r",
            "trafficPolicy": {
                "outlierDetection": {"consecutive5xxErrors": 7},
                "connectionPool": {"http": {"http1MaxPendingRequests": 3}},
            },
        }
    )
    assert dr.traffic_policy.outlier_detection.consecutive_5xx_errors == 7
    assert dr.traffic_policy.connection_pool.http.http1_max_pending_requests == 3


def test_int_fields_accept_quoted_integers_like_protojson() -> None:
    vs = VirtualService.model_validate(
        {"http": [{"route": [{"destination": {"host": "a", "port": {"number": "9080"}}, "weight": "5"}]}]}
    )
    assert vs.http[0].route[0].weight == 5
    assert vs.http[0].route[0].destination.port.number == 9080


def test_errors_name_file_line_and_field() -> None:
    r = one(
        VS_HEAD
        + """  hosts: [a]
  http:
  - route:
    - destination: {host: a}
      weight: 5
    - destination: {host: b}
      weight: x
"""
    )
    with pytest.raises(InputError) as ei:
        validate(r)
    e = ei.value
    assert (e.file, e.line, e.field) == ("t.yaml", 11, "spec.http[0].route[1].weight")
    assert str(e) == "t.yaml:11: spec.http[0].route[1].weight: must be an integer"
    assert e.exit_code == 65


def test_several_errors_reported_together_with_user_spelling() -> None:
    r = one(
        VS_HEAD
        + """  hosts: [a]
  http:
  - retries: {attempts: 3, per_try_timeout: 2q}
    bogus: 1
    corsPolicy: {allowCredentials: "true"}
    fault: {abort: {httpStatus: 500, percentage: {value: 10}}}
"""
    )
    with pytest.raises(ErrorList) as ei:
        validate(r)
    msgs = [str(e) for e in ei.value.errors]
    assert any(
        m.startswith("t.yaml:7: spec.http[0].retries.per_try_timeout: invalid duration '2q'") for m in msgs
    )
    assert "t.yaml:8: spec.http[0].bogus: unknown field" in msgs
    assert "t.yaml:9: spec.http[0].corsPolicy.allowCredentials: must be true or false" in msgs


def test_enums_are_checked() -> None:
    r = one("""apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: d}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: FASTEST}
""")
    with pytest.raises(InputError) as ei:
        validate(r)
    assert ei.value.field == "spec.trafficPolicy.loadBalancer.simple"
    assert ei.value.line == 7
    assert "ROUND_ROBIN" in ei.value.message


def test_required_fields_and_string_match_oneof() -> None:
    with pytest.raises(InputError) as ei:
        validate(
            one(
                "apiVersion: networking.istio.io/v1alpha3\nkind: DestinationRule\nmetadata: {name: d}\nspec: {subsets: []}\n"
            )
        )
    assert ei.value.field == "spec.host" and "required" in ei.value.message
    with pytest.raises(InputError) as ei:
        validate(one(VS_HEAD + "  http:\n  - match:\n    - uri: {exact: /a, prefix: /b}\n"))
    assert ei.value.field == "spec.http[0].match[0].uri"


def test_port_range_and_bool_strictness() -> None:
    with pytest.raises(InputError) as ei:
        validate(one(VS_HEAD + "  http:\n  - route:\n    - destination: {host: a, port: {number: 70000}}\n"))
    assert "between 1 and 65535" in ei.value.message
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        VirtualService.model_validate({"http": [{"match": [{"ignoreUriCase": "yes"}]}]})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("1.5s", 1.5), ("100ms", 0.1), ("1h", 3600.0), ("1h30m", 5400.0), ("250us", 0.00025)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "1", "s", "1d", "-1s", "1.s5"])
def test_parse_duration_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_mesh_config_defaults_are_istios() -> None:
    mc = MeshConfig()
    assert mc.root_namespace == "istio-system"
    assert mc.connect_timeout == "10s"
    assert mc.enable_auto_mtls is True
    assert mc.outbound_traffic_policy.mode == "ALLOW_ANY"
    assert mc.trust_domain == "cluster.local"
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        MeshConfig.model_validate({"enableAutoMTLS": True})  # misspelt: rejected


def test_kind_and_security_models() -> None:
    pa = validate(
        one("""apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: p, namespace: foo}
spec:
  selector: {matchLabels: {app: x}}
  mtls: {mode: STRICT}
  portLevelMtls:
    "8080": {mode: DISABLE}
""")
    )
    assert pa.mtls.mode == "STRICT" and pa.port_level_mtls[8080].mode == "DISABLE"


def test_null_fields_mean_unset_like_protojson() -> None:
    vs = validate(
        one(
            VS_HEAD
            + "  hosts:\n  gateways:\n  http:\n  - route:\n    - destination: {host: a}\n      weight:\n"
        )
    )
    assert vs.hosts == [] and vs.gateways == [] and vs.http[0].route[0].weight is None
