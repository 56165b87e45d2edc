"""Deploy "hello", a toy service, with corral's deploy recipe (corral.recipes.deploy).

    corral -H web1,web2 deploy                          # deploy_env from corral.yaml: staging
    corral -H web1,web2 --set deploy_env=production deploy
    corral -H web1,web2 --check deploy                  # what a deploy would do; nothing changes
    corral -H web1,web2 releases                        # * marks the live release
    corral -H web1,web2 rollback                        # back to the release before it
    corral -H web1,web2 health                          # exits 3 where hello is not current
    corral -H web2 lock --reason "debugging"            # deploys to web2 fail (status 75)
    corral -P --batch-size 1 --max-failures 0 -H web1,web2,web3 deploy   # rolling, stops early
    corral -G web deploy            # inventory.yaml's hosts, each group with its deploy_env

Everything is configured in corral.yaml's `deploy` section: the release's files (app/), the
config template and the command that validates it, the shared log directory, how many
releases to keep, the reload and the health check.
"""

from corral.recipes.deploy import Recipe

deploy, rollback, releases, health, lock, unlock = Recipe(__file__).tasks()
