"""--prompt-for-* without a terminal: one line saying how to pass the secret, exit 2.

Issue 9, defect 9: with stdin at /dev/null (CI), `--prompt-for-sudo-password` printed a
traceback and `corral: EOFError`. The login password and passphrase prompts are siblings.
"""

from __future__ import annotations

import getpass
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Invoke

MESSAGES = {
    "--prompt-for-sudo-password": (
        "corral: --prompt-for-sudo-password: no terminal to ask for the sudo password on; "
        "set the environment variable CORRAL_SUDO_PASSWORD, or put it in a config file as "
        "sudo.password (-f FILE)"
    ),
    "--prompt-for-login-password": (
        "corral: --prompt-for-login-password: no terminal to ask for the SSH login password on; "
        "put it in a config file as connect_kwargs.password (-f FILE), or use a key"
    ),
    "--prompt-for-passphrase": (
        "corral: --prompt-for-passphrase: no terminal to ask for the SSH key passphrase on; "
        "put it in a config file as connect_kwargs.passphrase (-f FILE), or add the key to "
        "ssh-agent"
    ),
}


@pytest.mark.parametrize("flag", list(MESSAGES))
def test_a_prompt_without_a_terminal_is_one_line_and_exits_2(tmp_path: Path, flag: str) -> None:
    marker = tmp_path / "ran"
    proc = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", flag, "--local", "--", "touch", str(marker)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,  # as in CI
        start_new_session=True,  # and no controlling terminal (/dev/tty) either
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [MESSAGES[flag]]
    assert not marker.exists()


def test_end_of_input_at_the_prompt_is_one_line_too(
    corral_cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ended(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", ended)
    result = corral_cli("--prompt-for-sudo-password", "--local", "--", "true")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "corral: --prompt-for-sudo-password: no sudo password was entered (end of input); "
        "set the environment variable CORRAL_SUDO_PASSWORD, or put it in a config file as "
        "sudo.password (-f FILE)"
    ]
