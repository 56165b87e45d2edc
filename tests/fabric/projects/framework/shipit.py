"""shipit: a deploy tool built on Fabric: a program of its own, with its own options, config
(files and SHIPIT_* variables) and an Executor that takes role names for hosts."""

import os

import tasks
from fabric import Config, Executor
from fabric.main import Fab
from invoke import Argument, Collection


class ShipitConfig(Config):
    prefix = "shipit"

    @staticmethod
    def global_defaults():
        defaults = Config.global_defaults()
        defaults["stage"] = "staging"
        defaults["roles"] = {}
        return defaults


class RoleExecutor(Executor):
    """-H takes role names (config `roles`) as well as hosts."""

    def normalize_hosts(self, hosts):
        roles = self.config.get("roles") or {}
        names = []
        for value in hosts or []:
            name = value["host"] if isinstance(value, dict) else value
            names.extend(roles.get(name, [name]))
        return super().normalize_hosts(names)


class Shipit(Fab):
    def core_args(self):
        return [*super().core_args(), Argument(names=("stage", "s"), help="Stage to ship to.")]

    def update_config(self):
        super().update_config()
        overrides = {"roles": {"web": os.environ["SHIPIT_WEB"].split(",")}}
        if self.args.stage.value:
            overrides["stage"] = self.args.stage.value
        self.config.load_overrides(overrides)  # once: Invoke's replaces what was there


program = Shipit(
    name="shipit",
    version="1.0",
    namespace=Collection.from_module(tasks),
    executor_class=RoleExecutor,
    config_class=ShipitConfig,
)

if __name__ == "__main__":
    program.run()
