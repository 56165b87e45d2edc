"""Shared by the fabfile's modules."""


def banner(c, what):
    """One line naming the host and the site."""
    return f"{c.original_host}: {c.config.site.name} {what}"
