"""patchwork's helpers (Fabric's sysadmin library) for fabfiles that use them: `files`
(directory, exists, contains, append), `environment` (have_program), `info` (distro_name,
distro_family), `packages` (package, rubygem), `transfers` (rsync), `util` (set_runner).

Each takes the context first (`exists(c, "/etc/app.conf")`) and runs its commands through
`c.run`, or `c.sudo` with `sudo=True` (`runner=` and `runner_method=` as in patchwork).
Paths are shell words, expanded as patchwork expands them (`~`, `$VAR`). Where real patchwork
does not import (it needs Invoke 1), `corral` loads these for a fabfile's `import patchwork`.
"""

__version_info__ = (1, 0, 1)
__version__ = "1.0.1"
