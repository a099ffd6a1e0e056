"""The message catalog: every code meshctl analyze can emit, with Istio's level and template wording.

IST codes and templates come from Istio's ``pkg/config/analysis/msg/messages.yaml`` (shipped here as
``data/istio_messages.json`` so the product runs without any reference folder); MSH codes are meshctl's
own checks (``data/meshctl_messages.json``). Plugins register more with :func:`register_message`.
Templates use Go's fmt verbs (``%s %v %q %d``), rendered by :func:`go_format` so texts match istioctl.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from importlib import resources as importlib_resources
from typing import Any

DOC_URL = "https://istio.io/latest/docs/reference/config/analysis/{code}/"
#: meshctl's codes are documented in the project's docs/analyze.md (one anchor per code); there is no public
#: site, so the reference is that path relative to the project root.
MESHCTL_DOC_URL = "docs/analyze.md#{code}"


class Level(enum.IntEnum):
    """Istio's diag levels, ordered so thresholds compare with ``>=``."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @classmethod
    def parse(cls, text: str) -> Level:
        """``error``/``Error``/``ERROR`` -> Level.ERROR; ValueError otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown level {text!r} (want Info, Warning or Error)") from None


@dataclass(frozen=True)
class MessageType:
    """One code: ``IST0101`` ReferencedResourceNotFound (Error) ``Referenced %s not found: %q``."""

    code: str
    name: str
    level: Level
    template: str
    description: str = ""
    doc_url: str = ""

    def render(self, *args: Any) -> str:
        return go_format(self.template, args)


def _load(filename: str) -> list[dict[str, Any]]:
    text = importlib_resources.files("meshctl.analyze").joinpath("data").joinpath(filename).read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


CATALOG: dict[str, MessageType] = {}


def register_message(
    code: str, name: str, level: str | Level, template: str, description: str = "", doc_url: str = ""
) -> MessageType:
    """Add a code to the catalog (plugins use this for their own codes); re-registering must agree."""
    lvl = level if isinstance(level, Level) else Level.parse(level)
    mt = MessageType(code, name, lvl, template, description, doc_url)
    old = CATALOG.get(code)
    if old is not None and (old.level, old.template) != (mt.level, mt.template):
        raise ValueError(f"message code {code} is already registered with a different level or template")
    CATALOG[code] = mt
    return mt


for _m in _load("istio_messages.json"):
    register_message(_m["code"], _m["name"], _m["level"], _m["template"], _m.get("description", ""), DOC_URL.format(code=_m["code"].lower()))
for _m in _load("meshctl_messages.json"):
    register_message(_m["code"], _m["name"], _m["level"], _m["template"], _m.get("description", ""), MESHCTL_DOC_URL.format(code=_m["code"].lower()))


def message_type(code: str) -> MessageType:
    try:
        return CATALOG[code]
    except KeyError:
        raise KeyError(f"unknown message code {code}") from None


# --- Go fmt -------------------------------------------------------------------------------------------


def go_quote(s: str) -> str:
    """Go's %q for a string: double quotes with Go escapes."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_value(v: Any, verb: str = "v") -> str:
    """Go's %v / %s of a value: lists as ``[a b]``, maps as ``map[k:v]``, bools lower-case."""
    if verb == "q":
        if isinstance(v, (list, tuple)):
            return "[" + " ".join(go_value(x, "q") for x in v) + "]"
        return go_quote(str(v))
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "<nil>"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(go_value(x, verb) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{go_value(k)}:{go_value(x)}" for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))) + "]"
    return str(v)


_VERB = re.compile(r"%[%svqd]")


def go_format(template: str, args: tuple[Any, ...] | list[Any]) -> str:
    """Render a Go fmt template with %s %v %q %d %% (enough for Istio's message templates)."""
    it = iter(args)

    def sub(m: re.Match[str]) -> str:
        verb = m.group(0)[1]
        if verb == "%":
            return "%"
        try:
            arg = next(it)
        except StopIteration:
            return f"%!{verb}(MISSING)"
        if verb == "d":
            return str(int(arg)) if isinstance(arg, (int, float)) or str(arg).lstrip("-").isdigit() else f"%!d({arg})"
        if verb in "sv" and isinstance(arg, str):
            return arg
        return go_value(arg, verb)

    return _VERB.sub(sub, template)
