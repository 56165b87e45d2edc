"""Configuration: `Config`, its defaults, the levels it is loaded from, and `Secret` values."""

from .config import Config, DataProxy, copy_dict, merge_dicts
from .secret import Secret
from .sources import load_config, parse_set

__all__ = [
    "Config",
    "DataProxy",
    "Secret",
    "copy_dict",
    "load_config",
    "merge_dicts",
    "parse_set",
]
