"""VirtualService ``retries`` -> Envoy ``RetryPolicy`` (Istio ``route/retry/retry.go``).

Istio always emits a retry policy (2 retries on connect failures and 503) unless ``attempts: 0``; users
are often surprised by that, so the default lives here in one place and is documented in docs/translate.md.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.retry.host.previous_hosts.v3 import previous_hosts_pb2
from envoy.extensions.retry.priority.previous_priorities.v3 import previous_priorities_config_pb2

from meshctl.translate.protoutil import duration, pack, u32

_HTTP_STATUS = frozenset(int(s) for s in HTTPStatus)
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
_PREVIOUS_HOSTS = rc.RetryPolicy.RetryHostPredicate(
    name="envoy.retry_host_predicates.previous_hosts",
    typed_config=pack(previous_hosts_pb2.PreviousHostsPredicate()),
)
_PREVIOUS_PRIORITIES = rc.RetryPolicy.RetryPriority(
    name="envoy.retry_priorities.previous_priorities",
    typed_config=pack(previous_priorities_config_pb2.PreviousPrioritiesConfig(update_frequency=2)),
)


def _default(hash_policy: bool) -> rc.RetryPolicy:
    p = rc.RetryPolicy(
        retry_on=DEFAULT_RETRY_ON,
        num_retries=u32(2),
        retriable_status_codes=[503],
        host_selection_retry_max_attempts=5,
    )
    if not hash_policy:
        p.retry_host_predicate.append(_PREVIOUS_HOSTS)
    return p


_DEFAULTS = {False: _default(False), True: _default(True)}


def default_policy(hash_policy: bool = False) -> rc.RetryPolicy:
    """Istio's ``DefaultPolicy``; no previous-hosts predicate when a consistent-hash LB applies."""
    p = rc.RetryPolicy()
    p.CopyFrom(_DEFAULTS[hash_policy])
    return p


def parse_retry_on(retry_on: str) -> tuple[str, list[int]]:
    """Split ``5xx,503,connect-failure`` into Envoy ``retry_on`` tokens and ``retriable_status_codes``."""
    tokens: list[str] = []
    codes: list[int] = []
    for raw in retry_on.split(","):
        tok = raw.strip()
        if not tok:
            continue
        if tok.isdigit() and int(tok) in _HTTP_STATUS:  # Go's http.StatusText(i) != ""
            codes.append(int(tok))
        else:
            tokens.append(tok)
    return ",".join(tokens), codes


def convert_policy(
    retries: Any | None, hash_policy: bool = False, mesh_default: Any | None = None
) -> rc.RetryPolicy | None:
    """The route's retry policy: VS ``retries``, else the mesh ``defaultHttpRetryPolicy``, else Istio's default."""
    if retries is None:
        retries = mesh_default
    if retries is None:
        return default_policy(hash_policy)
    attempts = getattr(retries, "attempts", None) or 0
    if attempts <= 0:
        return None
    out = default_policy(hash_policy)
    out.num_retries.value = int(attempts)
    retry_on = getattr(retries, "retry_on", None)
    if retry_on:
        tokens, codes = parse_retry_on(retry_on)
        if codes and "retriable-status-codes" not in tokens:  # Istio: strings.Contains
            tokens = f"{tokens},retriable-status-codes" if tokens else "retriable-status-codes"
        out.retry_on = tokens
        del out.retriable_status_codes[:]
        out.retriable_status_codes.extend(codes)
    per_try = getattr(retries, "per_try_timeout", None)
    if per_try is not None:
        out.per_try_timeout.CopyFrom(duration(per_try))
    if getattr(retries, "retry_remote_localities", None):
        out.retry_priority.CopyFrom(_PREVIOUS_PRIORITIES)
    ignore_prev = getattr(retries, "retry_ignore_previous_hosts", None)
    if ignore_prev is False:
        del out.retry_host_predicate[:]
    elif ignore_prev is True and not out.retry_host_predicate:
        out.retry_host_predicate.append(_PREVIOUS_HOSTS)
    backoff = getattr(retries, "backoff", None)
    if backoff is not None:
        out.retry_back_off.base_interval.CopyFrom(duration(backoff))
    return out
