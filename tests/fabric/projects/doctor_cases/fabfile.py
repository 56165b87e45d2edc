"""What corral --doctor flags: a fabfile mixing Fabric 1 leftovers, paramiko and Fabric's
internals with ordinary Fabric 2 code. It is read by the doctor, never run."""

from fabric import Config, Connection, ThreadingGroup, task
from fabric.api import env
from fabric.main import Fab
from fabric.tasks import ConnectionCall  # noqa: F401
from invoke import Executor
from invoke.exceptions import ThreadException  # noqa: F401
from paramiko import AutoAddPolicy

env.hosts = ["web1"]


@task(hosts=["web1", {"host": "web2", "connect_kwargs": {"compress": True}}])
def deploy(c):
    c.client.set_missing_host_key_policy(AutoAddPolicy())
    c.user = "deploy"
    c.config.run.echo = True
    with c.sftp() as sftp:
        sftp.put("app.tar.gz", "/srv/app.tar.gz")
    c.transport.set_keepalive(30)


@task(deploy)
def restart(c):
    group = ThreadingGroup("web1", "web2", config=Config())
    group.run("systemctl restart app")


class RoleExecutor(Executor):
    def normalize_hosts(self, hosts):
        return super().normalize_hosts(hosts)

    def parameterize(self, call, connection_init_kwargs):
        return call


class Tool(Fab):
    def parse_collection(self):
        pass

    def update_config(self):
        super().update_config()


def legacy():
    return Connection("web1", connect_kwargs={"gss_auth": True, "key_filename": "/k"})
