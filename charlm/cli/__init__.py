"""The command line: ``app`` (the Typer app and its commands), ``options`` (shared options, the error
boundary), one module per command family, and ``render`` (everything a person sees)."""
