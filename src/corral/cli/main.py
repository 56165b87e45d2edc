"""The `corral` console script."""


def main() -> None:
    """Run the corral command line."""
