"""corral's embedded SSH server: a fleet of loopback SSH hosts served by asyncssh, for where
OpenSSH's sshd cannot run (not root, or no sshd). Quarantined here: with the transport, the only
asyncssh importer.

:class:`EmbeddedFleet` (``controller.py``) starts *one* child process
(``python -m corral.testing.fleet.embedded``, ``server.py``) that runs an asyncssh server on one
asyncio loop, listening on N distinct loopback addresses ``127.X.Y.Z`` (one random ``X`` per
fleet) on one port, each address with its own ed25519 host key. The controller itself does not
import asyncssh.

The server behaves like a small OpenSSH ``sshd`` for the current local user:

* authentication by the generated client key or the generated password, for that user only;
* ``exec``/``shell`` requests run through the user's shell in the user's home directory,
  in their own session (process group), with a plain environment (``HOME``, ``USER``,
  ``LOGNAME``, ``PATH``, ``SHELL``, ``SSH_CONNECTION``, ``SSH_CLIENT``) plus the
  client's ``env`` requests; stdin/stdout/stderr are streamed as bytes with EOF in both
  directions, and the exit status or exit signal is reported like OpenSSH does
  (``session.py``, ``pipes.py``);
* ``pty-req`` runs the command on a real pseudo-terminal of the requested size;
* ``signal`` requests go to the command's process group; a channel closed (or a
  connection lost) before the command finished kills its process group (HUP, then KILL);
* the ``sftp`` subsystem is asyncssh's SFTP server (real paths, relative to the home);
* local (direct-tcpip) and remote (tcpip-forward) port forwarding, loopback only.

Files written to the fleet directory: ``ssh_config``, ``known_hosts``, ``id``/``id.pub``
(client key), ``password``, ``hostkeys/<alias>``, ``server.log`` and finally ``ready``
(JSON), which :meth:`EmbeddedFleet.start` waits for.
"""

from .controller import EmbeddedFleet

__all__ = ["EmbeddedFleet"]
