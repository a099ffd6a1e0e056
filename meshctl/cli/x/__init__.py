"""``meshctl x …`` experimental/inspection commands; one module per subcommand, each defining ``command``."""
