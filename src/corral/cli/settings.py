"""The command line's flags as configuration: the Config a run uses, and the secret prompts."""

from __future__ import annotations

import getpass
import warnings
from typing import Any

from ..config import Secret, load_config, merge_dicts
from ..config.config import Config
from ..errors import UsageError
from ..tasks.loader import project_directory
from .loading import Loaded
from .options import HIDE_CHOICES

#: (flag, config key, prompt, where else the secret may come from) for each secret prompt.
PROMPTS = (
    (
        "prompt_for_login_password",
        "connect_kwargs.password",
        "SSH login password: ",
        "put it in a config file as connect_kwargs.password (-f FILE), or use a key",
    ),
    (
        "prompt_for_passphrase",
        "connect_kwargs.passphrase",
        "SSH key passphrase: ",
        "put it in a config file as connect_kwargs.passphrase (-f FILE), or add the key "
        "to ssh-agent",
    ),
    (
        "prompt_for_sudo_password",
        "sudo.password",
        "sudo password: ",
        "set the environment variable CORRAL_SUDO_PASSWORD, or put it in a config file as "
        "sudo.password (-f FILE)",
    ),
)

#: Flags that set one config key to True.
_SWITCHES = {
    "echo": "run.echo",
    "warn_only": "run.warn",
    "dry": "run.dry",
    "check": "run.check",
    "diff": "run.diff",
    "pty": "run.pty",
}
#: Options whose value goes to one config key as given.
_VALUES = {
    "connect_timeout": "timeouts.connect",
    "command_timeout": "timeouts.command",
    "executor": "executor.kind",
    "workers": "executor.workers",
    "ray_address": "executor.ray_address",
}


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    node: Any = value
    for part in reversed(dotted.split(".")):
        node = {part: node}
    result: dict[str, Any] = node
    return result


def flag_settings(params: dict[str, Any]) -> dict[str, Any]:
    """Return the settings the command line's flags make (below --set, above every file)."""
    flags: dict[str, Any] = {}
    for name, key in _SWITCHES.items():
        if params[name]:
            merge_dicts(flags, _nested(key, True))
    for name, key in _VALUES.items():
        if params[name] is not None:
            merge_dicts(flags, _nested(key, params[name]))
    if params["hide"] is not None:
        merge_dicts(flags, _nested("run.hide", HIDE_CHOICES[params["hide"]]))
    if params["forward_agent"]:
        merge_dicts(flags, {"forward_agent": True})
    if params["persistent_session"]:
        merge_dicts(flags, {"persistent_session": True})
    if params["identity"]:
        merge_dicts(flags, _nested("connect_kwargs.key_filename", list(params["identity"])))
    if params["ssh_config"]:
        merge_dicts(flags, {"ssh_config_path": str(params["ssh_config"])})
    if params["host_key_policy"]:
        merge_dicts(flags, {"host_key_policy": params["host_key_policy"]})
    if params["no_dedupe"]:
        merge_dicts(flags, {"tasks": {"dedupe": False}})
    return flags


def build_config(
    params: dict[str, Any], loaded: Loaded | None, config_class: type[Config] = Config
) -> Config:
    """Build the Config from every level, the command line's flags and --set on top.

    With a fabfile, Fabric's config files and FABRIC_* variables are read too (below
    corral's). Secrets asked for with --prompt-for-* are asked once, here: every host's copy
    has them.
    """
    path = loaded.path if loaded is not None else None
    config = load_config(
        collection=loaded.collection.configuration() if loaded is not None else None,
        project_dir=project_directory(path) if path is not None else None,
        runtime_file=params["config"],
        overrides=flag_settings(params),
        sets=params["sets"],
        config_class=config_class,
        fabric=loaded is not None and loaded.fabric,
    )
    secrets: dict[str, Any] = {}
    for flag, key, prompt, instead in PROMPTS:
        if params[flag]:
            merge_dicts(secrets, _nested(key, Secret(ask_secret(flag, prompt, instead))))
    if secrets:
        config.merge(secrets)
    return config


def ask_secret(flag: str, prompt: str, instead: str) -> str:
    """Ask for a secret on the terminal, without echo; without a terminal, say what to do.

    getpass reads /dev/tty; with no terminal (CI, stdin at /dev/null) it would fall back to
    reading stdin with a warning and fail at end of file: that is refused before it happens.
    """
    option = "--" + flag.replace("_", "-")
    what = prompt.rstrip(": ")
    with warnings.catch_warnings():
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            return getpass.getpass(prompt)
        except getpass.GetPassWarning:
            problem = f"no terminal to ask for the {what} on"
        except EOFError:
            problem = f"no {what} was entered (end of input)"
    raise UsageError(f"{option}: {problem}; {instead}")
