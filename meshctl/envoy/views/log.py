"""``proxy-config log`` (read-only): the proxy's logging levels as Envoy reports them in ``/server_info``.

Envoy's ``/logging`` endpoint only answers POST, and meshctl never sends anything but GET to a proxy, so the
levels come from the server's command-line options (global level plus per-component overrides).
"""

from __future__ import annotations

from typing import Any


def levels(server_info: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(global level, {component: level}) from a ``/server_info`` document."""
    opts = server_info.get("command_line_options") or server_info.get("commandLineOptions") or {}
    level = str(opts.get("log_level") or opts.get("logLevel") or "info")
    comp = str(opts.get("component_log_level") or opts.get("componentLogLevel") or "")
    overrides = {}
    for part in filter(None, (p.strip() for p in comp.split(","))):
        name, _, lvl = part.partition(":")
        overrides[name] = lvl
    return level, overrides


def render(target: str, server_info: dict[str, Any]) -> str:
    level, overrides = levels(server_info)
    lines = [f"{target}:", "active loggers:", f"  (all): {level}"]
    lines += [f"  {name}: {lvl}" for name, lvl in sorted(overrides.items())]
    version = server_info.get("version")
    if version:
        lines.append(f"envoy version: {version}")
    return "\n".join(lines) + "\n"
