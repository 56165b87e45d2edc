"""`put_template`: render a Jinja2 or `string.Template` file locally, then upload it
atomically (with sudo if asked), validated before it replaces the target."""

from __future__ import annotations

import asyncio
import os
import string
import sys
from collections.abc import Mapping
from typing import Any, Literal

from ...errors import ConfigError, TemplateError, TransferError
from ...result import TransferResult
from .install import _put_sudo
from .paths import LocalPath, check_paths
from .session import Endpoint, _local_reason
from .source import _absolute, _Source
from .upload import _put_one

if sys.version_info >= (3, 11):
    from typing import TypedDict, Unpack
else:  # pragma: no cover
    from typing_extensions import TypedDict, Unpack


class TemplateKwargs(TypedDict, total=False):
    """Keyword options of `put_template` (defaults in brackets).

    engine: "jinja2" or "string" ["jinja2"]; validate: a command checking the new file,
    `{path}` replaced by its quoted path [None]; mode [None]; sudo [False]; owner [None].
    """

    engine: Literal["jinja2", "string"]
    validate: str | None
    mode: int | None
    sudo: bool
    owner: str | None


def render_template(
    host: str,
    path: str,
    remote: str,
    context: Mapping[str, Any],
    engine: Literal["jinja2", "string"],
) -> str:
    """Render a template file with `context`; a missing variable is a TemplateError naming it.

    Jinja2 runs with StrictUndefined (an undefined variable is an error, never ""), keeps
    a trailing newline and does not autoescape (configuration files, not HTML).
    """
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise TransferError(
            host, f"cannot read template: {_local_reason(exc)}", local=path, remote=remote
        ) from exc
    except UnicodeDecodeError as exc:
        raise TemplateError(
            host, f"template is not UTF-8 text ({exc.reason})", local=path, remote=remote
        ) from exc
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
    end: Endpoint,
    template: LocalPath,
    remote: str,
    context: Mapping[str, Any] | None = None,
    **options: Unpack[TemplateKwargs],
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
    engine = options.get("engine", "jinja2")
    validate = options.get("validate")
    mode = options.get("mode")
    sudo = options.get("sudo", False)
    owner = options.get("owner")
    unknown = set(options) - set(TemplateKwargs.__annotations__)
    if unknown:
        raise TypeError(
            f"put_template() got unexpected keyword argument(s) {', '.join(sorted(unknown))}"
        )
    if not remote:
        raise ConfigError("put_template: the remote path is empty")
    if validate is not None and "{path}" not in validate:
        raise ConfigError(f"put_template: validate command {validate!r} lacks {{path}}")
    if owner is not None and not sudo:
        raise ConfigError("put_template: owner= needs sudo=True")
    check_paths(end.label, "put_template", template=template, remote=remote)
    path = _absolute(os.fspath(template))
    text = await asyncio.to_thread(render_template, end.label, path, remote, context or {}, engine)
    name = os.path.basename(path).removesuffix(".j2") or os.path.basename(path)
    source = _Source.from_bytes(text.encode("utf-8"), path, name)
    if sudo:
        return await _put_sudo(
            end,
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
        end,
        source,
        template,
        remote,
        mode=mode,
        only_changed=False,
        progress=None,
        atomic=True,
        validate=validate,
    )
