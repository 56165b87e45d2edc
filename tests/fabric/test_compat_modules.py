"""Every name a fabfile imports from `fabric.X`, `invoke.X` or `patchwork.X` is in corral's
module of the same path (`corral.X`, `corral.patchwork.X`): switched imports and corral's
stand-ins both rely on it. The table is checked against the real Fabric 3.2.3 too."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Module -> the names real fabfiles (and programs built on Fabric) import from it.
IMPORTED = {
    "fabric": [
        "Config", "Connection", "Executor", "Group", "GroupResult", "Remote", "RemoteShell",
        "Result", "SerialGroup", "Task", "ThreadingGroup", "task", "__version__",
        "__version_info__",
    ],
    "fabric.config": ["Config"],
    "fabric.connection": ["Config", "Connection", "derive_shorthand"],
    "fabric.exceptions": ["GroupException", "InvalidV1Env", "NothingToDo"],
    "fabric.executor": ["ConnectionCall", "Executor"],
    "fabric.group": ["Group", "GroupResult", "SerialGroup", "ThreadingGroup"],
    "fabric.main": ["Fab", "make_program", "program"],
    "fabric.runners": ["Remote", "RemoteShell", "Result"],
    "fabric.tasks": ["ConnectionCall", "Task", "task"],
    "fabric.transfer": ["Result", "Transfer"],
    "fabric.util": ["debug", "get_local_user"],
    "invoke": [
        "AmbiguousEnvVar", "Argument", "AuthFailure", "Call", "Collection",
        "CollectionNotFound", "CommandTimedOut", "Config", "Context", "Executor", "Exit",
        "FailingResponder", "Failure", "FilesystemLoader", "Local", "MockContext",
        "ParseError", "ParseResult", "Parser", "ParserContext", "PlatformError", "Program",
        "Promise", "Responder", "ResponseNotAccepted", "Result", "Runner", "StreamWatcher",
        "SubprocessPipeError", "Task", "ThreadException", "UncastableEnvVar",
        "UnexpectedExit", "UnknownFileType", "UnpicklableConfigMember", "WatcherError",
        "__version__", "__version_info__", "call", "pty_size", "run", "sudo", "task",
    ],
    "invoke.collection": ["Collection"],
    "invoke.config": ["Config", "DataProxy", "copy_dict", "merge_dicts"],
    "invoke.context": ["Context", "MockContext"],
    "invoke.exceptions": [
        "AmbiguousEnvVar", "AuthFailure", "CollectionNotFound", "CommandTimedOut", "Exit",
        "Failure", "ParseError", "PlatformError", "ResponseNotAccepted",
        "SubprocessPipeError", "ThreadException", "UncastableEnvVar", "UnexpectedExit",
        "UnknownFileType", "UnpicklableConfigMember", "WatcherError",
    ],
    "invoke.executor": ["Executor"],
    "invoke.loader": ["FilesystemLoader", "Loader"],
    "invoke.main": ["program"],
    "invoke.parser": ["Argument", "ParseResult", "Parser", "ParserContext"],
    "invoke.program": ["Program"],
    "invoke.runners": ["Failure", "Local", "Promise", "Result", "Runner"],
    "invoke.tasks": ["Call", "Task", "call", "task"],
    "invoke.terminals": ["pty_size"],
    "invoke.util": [
        "ExceptionHandlingThread", "ExceptionWrapper", "cd", "debug", "enable_logging",
        "has_fileno", "helpline", "isatty", "task_name_sort_key",
    ],
    "invoke.watchers": ["FailingResponder", "Responder", "StreamWatcher"],
}  # fmt: skip
PATCHWORK = {
    "patchwork.environment": ["have_program"],
    "patchwork.files": ["append", "contains", "directory", "exists"],
    "patchwork.info": ["distro_family", "distro_name"],
    "patchwork.packages": ["package", "rubygem"],
    "patchwork.transfers": ["rsync"],
    "patchwork.util": ["set_runner"],
}


def corral_twin(module: str) -> str:
    top, _, rest = module.partition(".")
    base = "corral.patchwork" if top == "patchwork" else "corral"
    return base + (f".{rest}" if rest else "")


@pytest.mark.parametrize("module", sorted({**IMPORTED, **PATCHWORK}))
def test_corrals_module_of_the_same_path_has_every_name(module: str) -> None:
    names = {**IMPORTED, **PATCHWORK}[module]
    twin = importlib.import_module(corral_twin(module))
    missing = [name for name in names if not hasattr(twin, name)]
    assert missing == [], f"{corral_twin(module)} lacks {missing}"


def test_the_names_are_the_ones_fabric_and_invoke_have(fabric_venv: Path) -> None:
    """The table is real: Fabric 3.2.3 and Invoke 2 have each of these names there."""
    script = (
        "import importlib, json, sys\n"
        "table = json.loads(sys.argv[1])\n"
        "print(json.dumps({m: [n for n in names if not hasattr(importlib.import_module(m), n)]"
        " for m, names in table.items()}))\n"
    )
    python = str(fabric_venv / "bin" / "python")
    out = subprocess.run(
        [python, "-c", script, json.dumps(IMPORTED)], capture_output=True, text=True, check=True
    )
    absent = {module: names for module, names in json.loads(out.stdout).items() if names}
    assert absent == {}


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("UnexpectedExit", "UnexpectedExit"),
        ("ThreadException", "GroupException"),
        ("NothingToDo", "UsageError"),
        ("UncastableEnvVar", "ConfigError"),
    ],
)
def test_invokes_error_names_are_the_errors_corral_raises(name: str, error: str) -> None:
    exceptions = importlib.import_module("corral.exceptions")
    errors = importlib.import_module("corral.errors")
    assert getattr(exceptions, name) is getattr(errors, error)


def _stand_in_script(body: str) -> str:
    return "from corral.compat.shims import stand_ins\nwith stand_ins() as names:\n" + "".join(
        f"    {line}\n" for line in body.splitlines()
    )


def test_stand_ins_answer_for_fabric_invoke_and_patchwork_when_they_do_not_import() -> None:
    inside = (
        "import sys, fabric, fabric.connection, invoke.exceptions, patchwork.files\n"
        "import corral, corral.connection, corral.exceptions, corral.patchwork.files\n"
        "print(sorted(names))\n"
        "print(fabric is corral, fabric.connection is corral.connection)\n"
        "print(invoke.exceptions is corral.exceptions,"
        " patchwork.files is corral.patchwork.files)\n"
        "print(corral.__spec__.name, fabric.connection.__name__)\n"
        "try:\n"
        "    import fabric.api\n"
        "except ImportError as exc:\n"
        "    print('fabric.api:', 'Fabric 1' in str(exc))\n"
    )
    after = (
        "import sys\nprint(sorted(n for n in sys.modules if n.startswith(('fabric', 'invoke'))))\n"
    )
    script = _stand_in_script(inside) + after
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "['fabric', 'invoke', 'patchwork']",
        "True True",
        "True True",
        "corral corral.connection",  # the stand-in keeps its own name and spec
        "fabric.api: True",
        "[]",  # gone when the block ends
    ]


def test_a_real_package_is_never_stood_in_for(tmp_path: Path) -> None:
    (tmp_path / "invoke").mkdir()
    (tmp_path / "invoke" / "__init__.py").write_text("REAL = True\n")
    script = _stand_in_script("import invoke\nprint(sorted(names), getattr(invoke, 'REAL', False))")
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert out.stdout.strip() == "['fabric', 'patchwork'] True"
