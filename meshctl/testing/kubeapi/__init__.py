"""An in-process Kubernetes API server emulator (``meshctl x kube-emulator``); see :mod:`.emulator`."""

from meshctl.testing.kubeapi.emulator import FORWARD_ANNOTATION, KubeEmulator, Rule
from meshctl.testing.kubeapi.store import ApiError

__all__ = ["FORWARD_ANNOTATION", "ApiError", "KubeEmulator", "Rule"]
