"""`Portal`: one background event-loop thread that the whole sync API calls onto.

Modelled on anyio's BlockingPortal: blocking calls from any thread, a plain error when
called from the loop's own thread, and cancellation (remote commands stopped) when the
caller leaves with an exception such as KeyboardInterrupt.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

#: Seconds a cancelled call gets to stop its remote commands before the caller moves on.
CANCEL_GRACE = 5.0


class Portal:
    """A lazily started event loop in a daemon thread, shared by the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        #: core object -> its blocking twin (see sync/facade.py)
        self.twins: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        #: work started without waiting for it (`submit`), kept until it ends
        self.background: set[Future[Any]] = set()

    def _start(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid() and not loop.is_closed():
            return loop  # the common case, without the lock
        with self._lock:
            if self._loop is not None and self._pid == os.getpid() and not self._loop.is_closed():
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            # A daemon thread: an interpreter exiting with connections open is not held up.
            thread = threading.Thread(target=serve, name="corral-loop", daemon=True)
            thread.start()
            ready.wait()
            self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The portal's event loop (started on first use, and again after a fork)."""
        return self._start()

    def in_loop_thread(self) -> bool:
        """True when called from the portal's own thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def call(self, func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `func(*args, **kwargs)` on the loop and block until it returns."""
        loop = self._start()
        if self.in_loop_thread():
            raise RuntimeError(
                "corral's sync API was called from its own event loop thread; "
                "use corral.aio (await the call) inside coroutines and callbacks"
            )
        finished = threading.Event()

        async def guarded() -> T:
            try:
                return await func(*args, **kwargs)
            finally:
                finished.set()

        future: Future[T] = asyncio.run_coroutine_threadsafe(guarded(), loop)
        try:
            return future.result()
        except BaseException:
            if not future.done():
                # KeyboardInterrupt (or any exit): cancel the coroutine so it stops its remote
                # commands, and give it a moment to do so before the caller goes on.
                loop.call_soon_threadsafe(future.cancel)
                finished.wait(CANCEL_GRACE)
            raise

    def submit(
        self, func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
        """Start `func(*args, **kwargs)` on the loop and return its future at once; the
        portal keeps the work alive until it ends (`asynchronous`/`disown` commands)."""
        loop = self._start()

        async def run() -> T:
            return await func(*args, **kwargs)

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), loop)
        self.background.add(future)
        future.add_done_callback(self.background.discard)
        return future

    @contextlib.contextmanager
    def wrap_async_context_manager(self, manager: AbstractAsyncContextManager[T]) -> Iterator[T]:
        """Enter `manager` on the loop, run the block in the caller's thread, exit on the loop."""
        value = self.call(manager.__aenter__)
        try:
            yield value
        except BaseException as exc:
            if not self.call(manager.__aexit__, type(exc), exc, exc.__traceback__):
                raise
        else:
            self.call(manager.__aexit__, None, None, None)

    def stop(self) -> None:
        """Stop the loop (at interpreter exit); pending work is abandoned."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None or self._pid != os.getpid():
            return
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=2)
        if not thread.is_alive():
            loop.close()


portal = Portal()
atexit.register(portal.stop)
