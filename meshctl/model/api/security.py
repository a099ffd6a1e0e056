"""security.istio.io messages: PeerAuthentication (fully typed), AuthorizationPolicy and RequestAuthentication
(typed at the top level, rules carried loosely: meshctl's translator does not build RBAC/JWT filters yet)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from meshctl.model.api.base import IstioModel
from meshctl.model.api.networking import TypeWorkloadSelector as WorkloadSelector

MTLSMode = Literal["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]


class MutualTLS(IstioModel):
    mode: MTLSMode = "UNSET"


class PeerAuthentication(IstioModel):
    selector: WorkloadSelector | None = None
    mtls: MutualTLS | None = None
    port_level_mtls: dict[int, MutualTLS] = Field(default_factory=dict)


class AuthorizationPolicy(IstioModel):
    selector: WorkloadSelector | None = None
    target_ref: dict[str, Any] | None = None
    target_refs: list[dict[str, Any]] = Field(default_factory=list)
    rules: list[dict[str, Any]] = Field(default_factory=list)
    action: Literal["ALLOW", "DENY", "AUDIT", "CUSTOM"] = "ALLOW"
    provider: dict[str, Any] | None = None


class RequestAuthentication(IstioModel):
    selector: WorkloadSelector | None = None
    target_ref: dict[str, Any] | None = None
    target_refs: list[dict[str, Any]] = Field(default_factory=list)
    jwt_rules: list[dict[str, Any]] = Field(default_factory=list)
