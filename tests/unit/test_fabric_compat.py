"""Pure pieces of Fabric compatibility: constructible Results, Invoke's parser objects,
patchwork's helpers (the commands they run, through MockContext), adopting tasks made by
the real Invoke, and the names that import but refuse to be made."""

from __future__ import annotations

import re
import types
from typing import Any

import pytest

import corral
import corral.aio
import corral.loader
import corral.runners
from corral.connection import derive_shorthand
from corral.errors import UnsupportedError
from corral.parser import Argument, ParserContext, ParseResult
from corral.patchwork.files import append, contains, directory, exists
from corral.patchwork.transfers import rsync
from corral.patchwork.util import set_runner
from corral.result import Result
from corral.tasks.collection import Collection
from corral.testing import MockContext
from corral.transport.target import ConnectKwargs
from corral.util import ExceptionHandlingThread


def test_a_result_is_made_with_invokes_keywords() -> None:
    result = Result(stdout="out\n", stderr="err\n", exited=2, command="make")
    assert (result.stdout, result.stderr, result.exited, result.ok) == ("out\n", "err\n", 2, False)
    assert result.stdout_bytes == b"out\n" and result.return_code == 2
    assert Result().ok and Result().command == ""


def test_derive_shorthand_splits_a_host_string() -> None:
    assert derive_shorthand("deploy@web1:2222") == {"user": "deploy", "host": "web1", "port": 2222}
    assert derive_shorthand("web1") == {"user": None, "host": "web1", "port": None}


def test_connect_kwargs_take_attributes_and_check_keys() -> None:
    changes: list[str] = []
    kwargs = ConnectKwargs("web1", {"key_filename": "/k"}, lambda: changes.append("x"))
    kwargs.password = "pw"
    kwargs["passphrase"] = "pp"
    assert isinstance(kwargs["password"], corral.Secret)
    assert kwargs.timeout is None  # a missing key reads as None, as a dict.get
    assert "pw" not in repr(kwargs) and "pp" not in repr(kwargs)
    with pytest.raises(corral.errors.ConfigError, match="unknown connect_kwargs compress"):
        kwargs.compress = True
    del kwargs["key_filename"]
    assert changes == ["x", "x", "x"]


def test_invokes_parser_objects_carry_what_was_parsed() -> None:
    hosts = Argument(names=("hosts", "H"))
    hosts.value = "web1,web2"
    flag = Argument(name="ssh-config", kind=str)
    count = Argument(names=("verbose", "v"), kind=int, incrementable=True)
    count.set_value("3")
    core = ParseResult([ParserContext(args=[hosts, flag, count])])
    core.remainder = "uname -a"
    assert core[0].args.hosts.value == "web1,web2"
    assert core[0].args["H"] is hosts and core[0].args.ssh_config is flag
    assert flag.value is None and not flag.got_value and count.value == 3
    assert core[0].as_kwargs == {"hosts": "web1,web2", "ssh_config": None, "verbose": 3}
    assert Argument(name="tags", kind=list).value == []
    with pytest.raises(TypeError):
        Argument(name="x", names=("y",))


@pytest.mark.parametrize(
    "made",
    [
        lambda: corral.runners.Local(),
        lambda: corral.runners.Remote(None),
        lambda: corral.parser.Parser(),
        lambda: corral.loader.FilesystemLoader(),
        lambda: corral.tasks.ConnectionCall(None),
    ],
)
def test_fabrics_internals_import_but_refuse_to_be_made(made: Any) -> None:
    with pytest.raises(UnsupportedError) as caught:
        made()
    assert "corral" in str(caught.value)


def test_a_connection_says_it_is_not_paramiko_without_connecting() -> None:
    c = corral.Connection("web1")
    with pytest.raises(UnsupportedError, match="corral is not paramiko"):
        _ = c.client
    with pytest.raises(UnsupportedError, match="keepalive"):
        _ = corral.aio.Connection("web1").transport


# ---------------------------------------------------------------------- patchwork


def test_set_runner_picks_run_sudo_or_what_is_given() -> None:
    @set_runner
    def which(c, runner, word):
        return runner(word)

    c = MockContext(run="r\n", sudo="s\n")
    assert which(c, "x").stdout == "r\n"
    assert which(c, "x", sudo=True).stdout == "s\n"
    assert which(c, "x", runner_method="sudo").stdout == "s\n"
    assert which(c, "x", runner=lambda cmd: cmd.upper()) == "X"


def test_patchwork_files_run_quoted_commands() -> None:
    answers: dict[str | re.Pattern[str], Any] = {
        re.compile("test -e"): True,
        re.compile("grep"): False,
        re.compile(""): True,
    }
    c = MockContext(run=answers)
    assert exists(c, "~/app.conf")
    append(c, "/etc/app.conf", ["port = 80", "it's $HOME"])
    directory(c, "/srv/app", user="www", mode=750)
    commands = [call.args[0] for call in c.run.call_args_list]
    assert commands == [
        'test -e "$(echo ~/app.conf)"',
        'test -e "$(echo /etc/app.conf)"',
        "grep -E -e '^port = 80$' \"$(echo /etc/app.conf)\"",
        "printf '%s\\n' 'port = 80' >> \"$(echo /etc/app.conf)\"",
        'test -e "$(echo /etc/app.conf)"',
        "grep -E -e '^it'\"'\"'s \\$HOME$' \"$(echo /etc/app.conf)\"",
        "printf '%s\\n' 'it'\"'\"'s $HOME' >> \"$(echo /etc/app.conf)\"",
        'mkdir -p "$(echo /srv/app)"',
        'chown www:www "$(echo /srv/app)"',
        'chmod 750 "$(echo /srv/app)"',
    ]
    assert not contains(c, "/etc/app.conf", "a.b*c", exact=True)
    assert c.run.call_args_list[-1].args[0] == "grep -E -e '^a\\.b\\*c$' \"$(echo /etc/app.conf)\""


def test_patchwork_rsync_is_corrals_with_patchworks_options() -> None:
    seen: dict[str, Any] = {}

    class Conn:
        def rsync(self, source: str, target: str, **options: Any) -> str:
            seen.update(options, source=source, target=target)
            return "result"

    assert (
        rsync(Conn(), "build/", "/srv", exclude="*.tmp", delete=True, strict_host_keys=False)
        == "result"
    )
    assert seen == {
        "source": "build/",
        "target": "/srv",
        "delete": True,
        "exclude": ["*.tmp"],
        "rsync_opts": "-pthrvz",
        "ssh_opts": "-o StrictHostKeyChecking=no",
        "archive": False,
    }


# ---------------------------------------------------------------------- Invoke's own objects


def _invoke_class(name: str, module: str) -> type:
    return type(name, (), {"__module__": module})


def test_tasks_made_by_the_real_invoke_are_adopted() -> None:
    InvokeTask = _invoke_class("Task", "invoke.tasks")
    InvokeCall = _invoke_class("Call", "invoke.tasks")

    def make(body: Any, **fields: Any) -> Any:
        task = InvokeTask()
        defaults = dict(
            name=body.__name__, aliases=(), positional=[], optional=(), iterable=(),
            incrementable=(), is_default=False, help={}, pre=[], post=[], autoprint=False,
        )  # fmt: skip
        for key, value in {**defaults, **fields, "body": body}.items():
            setattr(task, key, value)
        return task

    def build(c): ...

    def deploy(c, branch="main"): ...

    built = make(build)
    call = InvokeCall()
    call.task, call.args, call.kwargs = built, (), {"x": 1}
    deployed = make(deploy, aliases=("d",), pre=[built], post=[call], hosts=["web1"])
    module = types.ModuleType("fabfile")
    module.build, module.deploy = built, deployed  # type: ignore[attr-defined]
    collection = Collection.from_module(module)
    task = collection["d"]
    assert task.hosts == ("web1",) and task.body is deploy
    assert task.pre[0].task is collection["build"]  # the same Task, adopted once
    assert task.post[0].kwargs == {"x": 1}
    assert [a.name for a in task.arguments()] == ["branch"]


def test_an_exception_handling_thread_keeps_what_ended_it() -> None:
    def boom(word: str) -> None:
        raise ValueError(word)

    thread = ExceptionHandlingThread(target=boom, kwargs={"word": "no"})
    thread.start()
    thread.join()
    wrapper = thread.exception()
    assert wrapper is not None and wrapper.type is ValueError and wrapper.kwargs == {"word": "no"}
    assert thread.is_dead
