"""The `corral` console script (the task runner CLI arrives with the task layer)."""

from __future__ import annotations

import argparse
import sys

from .. import __version__


def main(argv: list[str] | None = None) -> int:
    """Run the corral command line and return its exit status."""
    parser = argparse.ArgumentParser(
        prog="corral",
        description="Run commands, transfer files and deploy over SSH.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"corral {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="start a throwaway local fleet, show what corral does, stop it"
    )
    demo.add_argument("--hosts", type=int, default=3, help="how many local hosts (default 3)")
    demo.add_argument(
        "--embedded",
        action="store_true",
        help="use corral's embedded SSH server even where OpenSSH's sshd could run",
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(hosts=args.hosts, embedded=args.embedded)
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
