"""corral's exceptions, where Fabric and Invoke users look for them (see `corral.errors`)."""

from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .runner.watchers import ResponseNotAccepted

__all__ = [*_errors_all, "ResponseNotAccepted"]
