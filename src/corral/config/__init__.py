"""Configuration: `Config`, its defaults, and `Secret` values."""

from .config import Config, DataProxy, merge_dicts
from .secret import Secret

__all__ = ["Config", "DataProxy", "Secret", "merge_dicts"]
