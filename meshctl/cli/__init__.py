"""The command line: a thin shell over library functions. See :mod:`meshctl.cli.main`."""
