"""VirtualService ``HTTPMatchRequest`` -> Envoy ``RouteMatch`` (Istio ``route.TranslateRouteMatch``).

Spec: istio-translation.md §3.3. Header matchers are sorted by name; ``:method``/``:authority``/``:scheme``
come after them; ``withoutHeaders`` are inverted matchers that treat a missing header as empty so that a
request *without* the header still counts as "not matching" the negated value.
"""

from __future__ import annotations

from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.type.matcher.v3 import metadata_pb2, regex_pb2, string_pb2

from meshctl.translate.protoutil import boolv


def string_matcher(sm: Any) -> string_pb2.StringMatcher | None:
    """Istio ``StringMatch`` (exact/prefix/regex) -> Envoy ``StringMatcher``; None when empty."""
    if sm is None:
        return None
    exact = getattr(sm, "exact", None)
    if exact is not None:
        return string_pb2.StringMatcher(exact=exact)
    prefix = getattr(sm, "prefix", None)
    if prefix is not None:
        return string_pb2.StringMatcher(prefix=prefix)
    regex = getattr(sm, "regex", None)
    if regex is not None:
        return string_pb2.StringMatcher(safe_regex=regex_pb2.RegexMatcher(regex=regex))
    return None


def is_catch_all_string_match(sm: Any) -> bool:
    """Istio ``canBeConvertedToPresentMatch``: no match type at all, or ``regex: "*"`` (not RE2: "present")."""
    if sm is None:
        return True
    if getattr(sm, "exact", None) is not None or getattr(sm, "prefix", None) is not None:
        return False
    regex = getattr(sm, "regex", None)
    return regex is None or regex == "*"


def _present_or_string(out: Any, sm: Any) -> Any:
    """Fill a Header/QueryParameter matcher: ``present_match`` for catch-all matches, else ``string_match``."""
    if is_catch_all_string_match(sm):
        out.present_match = True
        return out
    m = string_matcher(sm)
    if m is not None:
        out.string_match.CopyFrom(m)
    return out


def header_matcher(name: str, sm: Any) -> rc.HeaderMatcher:
    return _present_or_string(rc.HeaderMatcher(name=name), sm)  # type: ignore[no-any-return]


def query_matcher(name: str, sm: Any) -> rc.QueryParameterMatcher:
    return _present_or_string(rc.QueryParameterMatcher(name=name), sm)  # type: ignore[no-any-return]


_CLAIMS = "@request.auth.claims"


def jwt_claims(name: str) -> list[str] | None:
    """Istio ``jwt.ToRoutingClaim``: ``@request.auth.claims.a.b`` or ``@request.auth.claims[a][b]`` -> [a, b]."""
    if not name.startswith(_CLAIMS):
        return None
    rest = name[len(_CLAIMS) :]
    if rest.startswith("."):
        claims = rest[1:].split(".")
    elif rest.startswith("[") and rest.endswith("]"):
        claims = rest[1:-1].split("][")
    else:
        return None
    return claims if all(claims) else None


def claims_matcher(claims: list[str], sm: Any) -> metadata_pb2.MetadataMatcher:
    """Istio ``MetadataMatcherForJWTClaims``: the ``istio_authn`` dynamic metadata, one-of over the claim list."""
    m = metadata_pb2.MetadataMatcher(filter="istio_authn")
    m.path.add(key="request.auth.claims")
    for c in claims:
        m.path.add(key=c)
    value = string_matcher(sm)
    one_of = m.value.list_match.one_of
    if value is not None:
        one_of.string_match.CopyFrom(value)
    else:
        one_of.present_match = True
    return m


def translate_route_match(match: Any | None) -> rc.RouteMatch:
    """The Envoy match for one ``match[]`` entry; ``None`` (a rule without match) is prefix ``/``."""
    out = rc.RouteMatch()
    if match is None:
        out.prefix = "/"
        return out
    uri = getattr(match, "uri", None)
    if uri is not None and getattr(uri, "exact", None) is not None:
        out.path = uri.exact
    elif uri is not None and getattr(uri, "prefix", None) is not None:
        out.prefix = uri.prefix
    elif uri is not None and getattr(uri, "regex", None) is not None:
        out.safe_regex.regex = uri.regex
    else:
        out.prefix = "/"
    out.case_sensitive.CopyFrom(boolv(not bool(getattr(match, "ignore_uri_case", False))))

    headers: list[rc.HeaderMatcher] = []
    for name, sm in (getattr(match, "headers", None) or {}).items():
        claims = jwt_claims(name)
        if claims is not None:  # JWT claim routing: dynamic metadata, not a header
            out.dynamic_metadata.append(claims_matcher(claims, sm))
            continue
        headers.append(header_matcher(name, sm))
    for name, sm in (getattr(match, "without_headers", None) or {}).items():
        claims = jwt_claims(name)
        if claims is not None:
            cm = claims_matcher(claims, sm)
            cm.invert = True
            out.dynamic_metadata.append(cm)
            continue
        hm = header_matcher(name, sm)
        hm.invert_match = True
        if not hm.present_match:
            hm.treat_missing_header_as_empty = True
        headers.append(hm)
    headers.sort(key=lambda h: h.name)
    for attr, pseudo in (("method", ":method"), ("authority", ":authority"), ("scheme", ":scheme")):
        sm = getattr(match, attr, None)
        if sm is not None:
            headers.append(header_matcher(pseudo, sm))
    out.headers.extend(headers)

    qps = [query_matcher(n, sm) for n, sm in (getattr(match, "query_params", None) or {}).items()]
    qps.sort(key=lambda q: q.name)
    out.query_parameters.extend(qps)
    return out


def is_catch_all_match(m: rc.RouteMatch) -> bool:
    """Istio ``IsCatchAllRoute``: prefix ``/`` (or regex ``.*``/``*``) with no header or query matchers."""
    which = m.WhichOneof("path_specifier")
    if which == "prefix":
        catch = m.prefix == "/"
    elif which == "path_separated_prefix":
        catch = m.path_separated_prefix == "/"
    elif which == "safe_regex":
        catch = m.safe_regex.regex in ("*", ".*")
    else:
        catch = False
    return catch and not m.headers and not m.query_parameters and not m.dynamic_metadata
