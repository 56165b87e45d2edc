"""`HopPool`: bastions shared by the connections that go through them.

Every connection whose ProxyJump names the same chain (with the same ssh_config and
credentials) tunnels through the same hop connections; a shared hop closes with its last user.
Handshakes through one bastion are admitted a few at a time: more at once trips the bastion's
and the targets' MaxStartups (measured: 8 in flight per destination lost none of 100).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Protocol, TypeVar

#: Handshakes tunnelled through one bastion at once.
BASTION_HANDSHAKES = 8


class Hop(Protocol):
    """What the pool needs of a gateway connection."""

    async def close(self) -> None:
        """Close the connection."""


H = TypeVar("H", bound=Hop)


class HopPool:
    """Shared ProxyJump hops by chain, their users, and handshake admission per bastion."""

    def __init__(self) -> None:
        self._hops: weakref.WeakValueDictionary[tuple[Hashable, ...], Hop] = (
            weakref.WeakValueDictionary()
        )
        self._shared: weakref.WeakSet[Hop] = weakref.WeakSet()
        self._users: weakref.WeakKeyDictionary[Hop, int] = weakref.WeakKeyDictionary()
        #: bastion -> (the loop its admission belongs to, the admission)
        self._slots: weakref.WeakKeyDictionary[
            Hop, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]
        ] = weakref.WeakKeyDictionary()

    def chain(
        self,
        hops: Sequence[str],
        key: tuple[Hashable, ...],
        make: Callable[[str, H | None], H],
    ) -> H:
        """Return the last hop of a ProxyJump chain (the first hop outermost), made once.

        `make(name, previous)` builds the connection to hop `name` through `previous`;
        `key` says what must match for two chains to share hops (ssh_config, credentials).
        """
        previous: H | None = None
        for name in hops:
            key = (*key, name)
            shared = self._hops.get(key)
            if shared is None:
                shared = make(name, previous)
                self._hops[key] = shared
                self._shared.add(shared)
            previous = shared  # type: ignore[assignment]
        if previous is None:
            raise ValueError("a ProxyJump chain needs at least one hop")
        return previous

    def adopt(self, gateway: Hop) -> None:
        """Share a gateway made elsewhere (an inventory's bastion): it closes with its last user."""
        self._shared.add(gateway)

    def admit(self, gateway: Hop) -> asyncio.Semaphore:
        """Return the admission for handshakes tunnelled through `gateway` (one per event
        loop: a semaphore belongs to the loop it first waited on)."""
        loop = asyncio.get_running_loop()
        held = self._slots.get(gateway)
        if held is None or held[0] is not loop:
            held = self._slots[gateway] = (loop, asyncio.Semaphore(BASTION_HANDSHAKES))
        return held[1]

    def use(self, gateway: Hop) -> None:
        """Count one more connection tunnelling through `gateway`."""
        self._users[gateway] = self._users.get(gateway, 0) + 1

    async def release(self, gateway: Hop) -> None:
        """Count one connection fewer; a shared hop closes with its last user."""
        users = self._users.get(gateway, 0) - 1
        self._users[gateway] = max(0, users)
        if users <= 0 and gateway in self._shared:
            await gateway.close()


#: The pool every Connection uses unless given another.
shared_hops = HopPool()
