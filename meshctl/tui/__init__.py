"""``meshctl tui``: the Textual app over :mod:`meshctl.graph` (see :mod:`meshctl.tui.app`, ``docs/tui.md``)."""
