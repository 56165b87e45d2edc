"""The remote layer: Connection (and, later, transfers, forwards and groups)."""
