"""Fabric compatibility: fabfiles that import `fabric`, `invoke` or `patchwork` run unmodified.

- `shims`: while `corral` loads a fabfile, and only where the real package cannot be
  imported, `fabric` and `invoke` are corral (`fabric.connection` is `corral.connection`, ...)
  and `patchwork` is `corral.patchwork`; never when the real ones import.
- `doctor`: read a fabfile (without running it) and list what it uses that corral does
  differently or not at all (`corral --doctor`).
- `python -m corral.compat SCRIPT [ARGS]`: run a script that imports Fabric (a program built
  on Fabric, say) with the same stand-ins.
"""
