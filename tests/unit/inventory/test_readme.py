"""The README's inventory section says what corral does: its example inventory, patterns
and hook run as written."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest

from corral.inventory import Inventory, is_inventory_hook

README = (Path(__file__).parents[3] / "README.md").read_text()


def _block(after: str, language: str) -> str:
    start = README.index(f"```{language}\n", README.index(after)) + len(language) + 4
    return README[start : README.index("```", start)]


@pytest.fixture
def inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Inventory:
    monkeypatch.chdir(tmp_path)
    Path("inventory.yaml").write_text(_block("### corral's inventory format", "yaml"))
    return Inventory.load("inventory.yaml")


def test_the_example_inventory(inventory: Inventory) -> None:
    assert inventory.host_names == ["web01", "web02", "web03", "db1", "bastion"]
    db1 = inventory.host("db1")
    assert (db1.address, db1.port, db1.user, db1.gateway) == ("10.0.2.5", 2222, "admin", "bastion")
    assert db1.groups == ("backup", "prod")
    assert dict(db1.vars) == {"app_user": "deploy", "retention_days": 7,
                              "deploy_env": "production", "pg_version": 16}  # fmt: skip
    web02 = inventory.host("web02")
    assert (web02.address, web02.gateway, web02.vars["http_port"]) == ("10.0.1.2", "bastion", 8080)
    api = _block("### From the API", "python")
    shown = re.search(r'origin\("pg_version"\)\)\s+# (\S+)', api)
    assert shown is not None and str(db1.origin("pg_version")).startswith(shown.group(1))
    selected = inventory.select_hosts("web:&prod:!web03", limit="role=web")
    assert [h.name for h in selected] == ["web01", "web02"]


def test_the_hook_example_reads_its_csv(tmp_path: Path) -> None:
    code = _block("### A Python hook", "python")
    (tmp_path / "cmdb.csv").write_text(
        "name,address,role,groups\nweb1,10.0.0.1,web,web prod\ndb1,10.0.0.9,db,prod\n"
    )
    namespace: dict[str, Any] = {"__file__": str(tmp_path / "corralfile.py"), "csv": csv}
    exec(compile(code, "README hook", "exec"), namespace)
    hook = namespace["from_cmdb"]
    assert is_inventory_hook(hook)
    inventory = Inventory.load(hook)
    assert inventory.members("prod") == ("web1", "db1")
    assert inventory.host("db1").labels == {"role": "db"}
