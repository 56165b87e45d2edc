"""The site's tasks, in namespaces: db.*, web.*, and deploy (the default) at the top."""

import helpers  # a sibling module, by name: the package's directory is on sys.path
from fabric import task
from invoke import Collection

from . import db, web


@task(default=True)
def deploy(c):
    """Deploy the site: migrate, then restart the web server."""
    db.migrate(c)
    web.restart(c)
    print(helpers.banner(c, "deployed"))


ns = Collection(deploy, db, web)
ns.configure({"site": {"name": "example", "workers": 2}})
