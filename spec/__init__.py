"""TLA+ specifications of Wiber and the `tlc` command."""
