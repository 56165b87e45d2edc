"""The broker: connection reuse across `corral` invocations, like OpenSSH's ControlPersist.

Opt-in (`corral --broker ...`, or `CORRAL_BROKER=1` in the environment). The first
invocation starts a broker process of the same user; every ad-hoc command (`corral [options]
-H HOSTS -- COMMAND`) is then run by the broker, which keeps each SSH connection open for
`--broker-persist` seconds (default 60) after its last use, so a shell loop of invocations
pays the handshake once. The command line itself (`client`) is the standard library only: it
starts in tens of milliseconds, where importing corral's engine takes hundreds.

Security model:

- The broker listens on a Unix socket only, never on the network. The socket lives in a
  directory only the user can enter (`$XDG_RUNTIME_DIR/corral`, else `/tmp/corral-UID`, made
  0700 and checked: owned by the user, not a symlink, no access for others) and is 0600.
- Both ends check the other's uid (SO_PEERCRED): a broker serves its own user only, and a
  client talks only to a broker of its own user.
- The broker runs the same command line code with the invocation's own environment, working
  directory, config files and flags, so host keys and credentials are checked exactly as
  without it. A connection is reused only by an invocation whose settings for that host are
  identical (host, port, user, key files and their contents' stamps, passwords by digest,
  agent socket, known_hosts files and their stamps, host key policy, timeouts); a changed
  known_hosts or key file means a new connection.
- Idle connections close after their persist time; a broker with no connection left and no
  invocation for that long exits and removes its socket. A broker that died leaves a socket
  nobody answers: the next invocation removes it and starts another (a lock file ensures one
  broker per user and installation).
- What the broker does not run (the invocation runs by itself, as without a broker): tasks
  from a corralfile, anything that asks on the terminal (--prompt-for-*), --help, --list,
  --debug, and a second invocation while the broker is busy with one.
"""
