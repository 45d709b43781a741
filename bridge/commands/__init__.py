"""Sub-commands of ``studio-bridge``: one module per command, each exposing ``command``."""
