"""`invoke.program`'s `Program`: a command line like corral's for a program built on it."""

from .cli.program import Program

__all__ = ["Program"]
