"""``meshctl analyze``: Istio's configuration analyzers (IST codes) plus meshctl's own checks (MSH codes).

Library use (the CLI is a thin shell over this)::

    from meshctl.analyze import analyze
    from meshctl.sources import load_paths
    result = analyze(load_paths(["manifests/"], default_namespace=""))
    for m in result.messages:
        print(m.render())

Plugins subclass :class:`Analyzer` and register through the ``meshctl.analyzers`` entry point group.
"""

from meshctl.analyze.context import AnalysisContext
from meshctl.analyze.message import Message
from meshctl.analyze.messages import CATALOG, Level, MessageType, register_message
from meshctl.analyze.registry import Analyzer, all_analyzers
from meshctl.analyze.run import AnalysisResult, Suppression, analyze

__all__ = [
    "CATALOG",
    "AnalysisContext",
    "AnalysisResult",
    "Analyzer",
    "Level",
    "Message",
    "MessageType",
    "Suppression",
    "all_analyzers",
    "analyze",
    "register_message",
]
