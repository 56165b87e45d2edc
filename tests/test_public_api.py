"""The public surface: what `corral` and `corral.aio` export, and that the twins match."""

import inspect

import corral
import corral.aio
import corral.exceptions

SYNC_AIO_PAIRS = [
    (corral.Connection, corral.aio.Connection),
    (corral.Context, corral.aio.Context),
    (corral.Group, corral.aio.Group),
    (corral.SerialGroup, corral.aio.SerialGroup),
    (corral.ThreadingGroup, corral.aio.ThreadingGroup),
]


def test_sync_api_exports() -> None:
    assert set(corral.__all__) >= {
        "Config",
        "Connection",
        "Result",
        "UnexpectedExit",
        "CommandTimedOut",
        "Responder",
        "FailingResponder",
        "StreamWatcher",
    }
    for name in corral.__all__:
        assert hasattr(corral, name), name


def test_aio_exports_the_same_names_except_the_version() -> None:
    assert set(corral.aio.__all__) == set(corral.__all__) - {"__version__"}
    for name in corral.aio.__all__:
        assert hasattr(corral.aio, name), name


def test_exceptions_module_has_the_fabric_names() -> None:
    for name in ("UnexpectedExit", "CommandTimedOut", "AuthenticationError", "ConnectionLost"):
        assert hasattr(corral.exceptions, name)


#: Names whose colour shows in their kind: the sync twin's is a property (`c.facts.os`),
#: the async twin's a coroutine method (`await c.facts()`).
PROPERTY_ON_SYNC_SIDE = {"facts"}


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    out = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") and name not in ("__init__", "__enter__", "__exit__"):
            continue
        if inspect.isfunction(member):
            out[name] = inspect.signature(member)
    return out


def _params(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_sync_and_async_twins_have_the_same_methods_and_parameters() -> None:
    for sync_cls, async_cls in SYNC_AIO_PAIRS:
        sync_methods = _public_methods(sync_cls)
        async_methods = _public_methods(async_cls)
        # context-manager dunders differ by colour (__enter__ vs __aenter__)
        for methods in (sync_methods, async_methods):
            methods.pop("__enter__", None)
            methods.pop("__exit__", None)
        for name in PROPERTY_ON_SYNC_SIDE & (set(async_methods) - set(sync_methods)):
            assert isinstance(getattr(sync_cls, name), property), name
            assert inspect.iscoroutinefunction(getattr(async_cls, name)), name
            del async_methods[name]
        assert sorted(sync_methods) == sorted(async_methods)
        for name, signature in sync_methods.items():
            assert _params(signature) == _params(async_methods[name]), name
            if name == "__init__":
                continue
            sync_fn = getattr(sync_cls, name)
            async_fn = getattr(async_cls, name)
            is_coroutine = inspect.iscoroutinefunction(async_fn)
            assert not inspect.iscoroutinefunction(sync_fn), name
            # every blocking method that does I/O is a coroutine on the async side
            if name not in (
                "cd",
                "prefix",
                "forward_local",
                "forward_remote",
                "interrupt",
                "use_facts",
            ):
                assert is_coroutine, name


def test_sync_and_async_twins_share_public_properties() -> None:
    for sync_cls, async_cls in SYNC_AIO_PAIRS:
        sync_props = {n for n, m in inspect.getmembers(sync_cls) if isinstance(m, property)}
        async_props = {n for n, m in inspect.getmembers(async_cls) if isinstance(m, property)}
        assert async_props <= sync_props


def test_inventory_twins_differ_only_in_the_group_they_select() -> None:
    sync_methods = _public_methods(corral.Inventory)
    async_methods = _public_methods(corral.aio.Inventory)
    assert sorted(sync_methods) == sorted(async_methods)
    for name, signature in sync_methods.items():
        assert _params(signature) == _params(async_methods[name]), name
        # loading and selecting are local (files, scripts): only gathering facts connects
        is_coroutine = inspect.iscoroutinefunction(getattr(corral.aio.Inventory, name))
        assert is_coroutine == (name == "gather_facts"), name
    assert inspect.signature(corral.Inventory.select).return_annotation in ("Group", corral.Group)
    assert inspect.signature(corral.aio.Inventory.select).return_annotation in (
        "Group",
        corral.aio.Group,
    )


def test_the_operations_have_blocking_and_async_twins_with_the_same_parameters() -> None:
    import corral.operations
    from corral import ops

    assert set(ops.__all__) == set(corral.operations.__all__) == set(corral.aio.ops.__all__)
    for name in ops.__all__:
        blocking, core = getattr(ops, name), getattr(corral.aio.ops, name)
        if isinstance(core, type) or name in ("handler", "render_recap", "recap_json"):
            assert blocking is core, name  # shared: classes and pure functions
            continue
        if name in ("flush_handlers", "handlers"):
            continue  # the blocking ones run blocking handlers in the caller's thread
        assert inspect.iscoroutinefunction(core) and not inspect.iscoroutinefunction(blocking)
        # the same parameters after the connection (the blocking twin is made from the core)
        core_params = list(inspect.signature(core).parameters)[1:]
        assert list(inspect.signature(blocking).parameters)[1:] == core_params, name
        assert blocking.__doc__ == core.__doc__ and blocking.__name__ == name
