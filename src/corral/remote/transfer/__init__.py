"""`put`, `get` and `put_template` for one Connection: SFTP transfers through a temp file
(O_EXCL, fsync, rename) so that a failure or cancellation leaves the target as it was
(measured: an in-place write leaves a partial file at the target, and follows a symlink
planted at a predictable temp name)."""

from .api import GetKwargs, PutKwargs, get, put
from .install import install_script
from .paths import (
    NAME_MAX,
    PLACEHOLDERS,
    LocalPath,
    check_listing,
    default_mode,
    expand_local,
    is_safe_name,
    parse_sha256sum,
    remote_base,
    resolve_remote,
    temp_name,
)
from .pool import DEFAULT_BUDGET, TransferPool
from .session import Endpoint
from .source import LOCAL_BATCH, ProgressCallback
from .template import TemplateKwargs, put_template, render_template
from .upload import HASH_BATCH

__all__ = [
    "DEFAULT_BUDGET",
    "HASH_BATCH",
    "LOCAL_BATCH",
    "NAME_MAX",
    "PLACEHOLDERS",
    "Endpoint",
    "GetKwargs",
    "LocalPath",
    "ProgressCallback",
    "PutKwargs",
    "TemplateKwargs",
    "TransferPool",
    "check_listing",
    "default_mode",
    "expand_local",
    "get",
    "install_script",
    "is_safe_name",
    "parse_sha256sum",
    "put",
    "put_template",
    "remote_base",
    "render_template",
    "resolve_remote",
    "temp_name",
]
