"""One module per top-level command; each defines ``command`` (see :mod:`meshctl.cli.main`)."""
