"""`put_template`: render a Jinja2 or `string.Template` file locally, then upload it
atomically (with sudo if asked), validated before it replaces the target."""

from __future__ import annotations

import asyncio
import os
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from ...errors import ConfigError, TemplateError, TransferError
from ...result import TransferResult
from .install import _put_sudo
from .paths import LocalPath
from .session import _local_reason
from .source import _absolute, _Source
from .upload import _put_one

if TYPE_CHECKING:
    from ..connection import Connection


def _render(
    host: str,
    path: str,
    remote: str,
    context: Mapping[str, Any],
    engine: Literal["jinja2", "string"],
) -> str:
    """Render a template file with `context`; a missing variable is a TemplateError naming it."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise TransferError(
            host, f"cannot read template: {_local_reason(exc)}", local=path, remote=remote
        ) from None
    except UnicodeDecodeError as exc:
        raise TemplateError(
            host, f"template is not UTF-8 text ({exc.reason})", local=path, remote=remote
        ) from None
    if engine == "string":
        try:
            return string.Template(text).substitute(context)
        except KeyError as exc:
            reason = f"template variable ${exc.args[0]} is undefined"
        except ValueError as exc:
            reason = f"template syntax error: {exc}"
        raise TemplateError(host, reason, local=path, remote=remote)
    if engine != "jinja2":
        raise ConfigError(f"put_template: engine must be 'jinja2' or 'string', not {engine!r}")
    import jinja2  # here: only template users pay for importing it

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.dirname(path)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # configuration files, not HTML
    )
    try:
        return environment.from_string(text).render(dict(context))
    except jinja2.UndefinedError as exc:
        reason = f"template variable undefined: {exc.message}"
    except jinja2.TemplateSyntaxError as exc:
        reason = f"template syntax error on line {exc.lineno}: {exc.message}"
    except jinja2.TemplateError as exc:
        reason = f"template error: {exc.message}"
    raise TemplateError(host, reason, local=path, remote=remote)


async def put_template(
    conn: Connection,
    template: LocalPath,
    remote: str,
    context: Mapping[str, Any] | None = None,
    *,
    engine: Literal["jinja2", "string"] = "jinja2",
    validate: str | None = None,
    mode: int | None = None,
    sudo: bool = False,
    owner: str | None = None,
) -> TransferResult:
    """Render a template locally and upload the result atomically, validated if asked.

    Args:
        engine: "jinja2" (StrictUndefined: a missing variable is an error) or "string"
            (`string.Template.substitute`).
        validate: a command run on the uploaded temp file before it replaces the target,
            with `{path}` replaced by its quoted path, e.g. "nginx -t -c {path}"; when it
            fails the target is left as it was and ValidationError carries its output.
        mode, sudo, owner: as for put; by default an existing target keeps its mode.
    """
    if not remote:
        raise ConfigError("put_template: the remote path is empty")
    if validate is not None and "{path}" not in validate:
        raise ConfigError(f"put_template: validate command {validate!r} lacks {{path}}")
    if owner is not None and not sudo:
        raise ConfigError("put_template: owner= needs sudo=True")
    path = _absolute(os.fspath(template))
    text = await asyncio.to_thread(_render, conn.original_host, path, remote, context or {}, engine)
    name = os.path.basename(path).removesuffix(".j2") or os.path.basename(path)
    source = _Source.from_bytes(text.encode("utf-8"), path, name)
    if sudo:
        return await _put_sudo(
            conn,
            source,
            template,
            remote,
            mode=mode,
            owner=owner,
            only_changed=False,
            progress=None,
            validate=validate,
        )
    return await _put_one(
        conn,
        source,
        template,
        remote,
        mode=mode,
        only_changed=False,
        progress=None,
        atomic=True,
        validate=validate,
    )
