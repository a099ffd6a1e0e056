"""MeshConfig ``accessLogFile`` -> Envoy file access logs on every HCM and tcp_proxy (Istio
``pilot/pkg/model/telemetry_logging.go``: format, TEXT/JSON encoding, custom ``accessLogFormat``).

Applied after the listeners are built (a pass over their filters) so the builders stay free of telemetry
concerns and meshes without access logging pay nothing.
"""

from __future__ import annotations

import json
from typing import Any

from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.access_loggers.file.v3 import file_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2

from meshctl.translate.filters import HCM, TCP_PROXY
from meshctl.translate.protoutil import pack

FILE_LOGGER = "envoy.access_loggers.file"
#: Istio ``EnvoyTextLogFormat``
TEXT_FORMAT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% '
    "%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
    '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% '
    '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" '
    '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% '
    "%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n"
)
#: Istio ``EnvoyJSONLogFormatIstio``
JSON_FORMAT: dict[str, str] = {
    "start_time": "%START_TIME%",
    "route_name": "%ROUTE_NAME%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "protocol": "%PROTOCOL%",
    "response_code": "%RESPONSE_CODE%",
    "response_flags": "%RESPONSE_FLAGS%",
    "response_code_details": "%RESPONSE_CODE_DETAILS%",
    "connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%",
    "bytes_received": "%BYTES_RECEIVED%",
    "bytes_sent": "%BYTES_SENT%",
    "duration": "%DURATION%",
    "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    "x_forwarded_for": "%REQ(X-FORWARDED-FOR)%",
    "user_agent": "%REQ(USER-AGENT)%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "authority": "%REQ(:AUTHORITY)%",
    "upstream_host": "%UPSTREAM_HOST%",
    "upstream_cluster": "%UPSTREAM_CLUSTER_RAW%",
    "upstream_local_address": "%UPSTREAM_LOCAL_ADDRESS%",
    "downstream_local_address": "%DOWNSTREAM_LOCAL_ADDRESS%",
    "downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
    "requested_server_name": "%REQUESTED_SERVER_NAME%",
    "upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
}


def file_access_log(mesh_config: Any) -> accesslog_pb2.AccessLog | None:
    """The file access log the mesh config asks for, or None (``accessLogFile`` unset)."""
    path = getattr(mesh_config, "access_log_file", "") or ""
    if not path:
        return None
    fal = file_pb2.FileAccessLog(path=path)
    custom = getattr(mesh_config, "access_log_format", None)
    if str(getattr(mesh_config, "access_log_encoding", "") or "").upper() == "JSON":
        fields = JSON_FORMAT
        if custom:
            try:
                parsed = json.loads(custom)
                fields = (
                    {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else JSON_FORMAT
                )
            except ValueError:
                fields = JSON_FORMAT  # Istio falls back to the default on an invalid custom format
        fal.log_format.json_format.update(fields)
    else:
        text = custom if custom else TEXT_FORMAT
        if not text.endswith("\n"):
            text += "\n"
        fal.log_format.text_format_source.inline_string = text
    return accesslog_pb2.AccessLog(name=FILE_LOGGER, typed_config=pack(fal))


def apply_access_log(listeners: list[listener_pb2.Listener], mesh_config: Any) -> None:
    """Add the mesh's file access log to every HCM and tcp_proxy of ``listeners`` and, filtered to
    "no filter chain matched", to the listeners themselves (in place)."""
    log = file_access_log(mesh_config)
    if log is None:
        return
    # Istio's listener access log only records connections no filter chain took (response flag NR)
    listener_log = accesslog_pb2.AccessLog()
    listener_log.CopyFrom(log)
    listener_log.filter.response_flag_filter.flags.append("NR")
    for lis in listeners:
        lis.access_log.append(listener_log)
        chains = list(lis.filter_chains)
        if lis.HasField("default_filter_chain"):
            chains.append(lis.default_filter_chain)
        for ch in chains:
            for f in ch.filters:
                msg: Any
                if f.name == HCM:
                    msg = hcm_pb2.HttpConnectionManager()
                elif f.name == TCP_PROXY:
                    msg = tcp_proxy_pb2.TcpProxy()
                else:
                    continue
                f.typed_config.Unpack(msg)
                msg.access_log.append(log)
                f.typed_config.Pack(msg)
