"""Test and demo helpers shipped with meshctl (so users can run them too), e.g. the Kubernetes API emulator."""
