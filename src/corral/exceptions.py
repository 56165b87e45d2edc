"""corral's exceptions, where Fabric and Invoke users look for them (see `corral.errors`)."""

from .errors import *  # noqa: F403
from .errors import __all__ as __all__
