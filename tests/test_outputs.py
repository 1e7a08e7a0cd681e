"""The stack outputs other teams rely on: exactly the contract, secret where it says so."""

from __future__ import annotations

import pytest

from components.outputs import OUTPUTS, markdown_table
from conftest import ROOT, STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_match_the_contract(renders, stack):
    result = renders[stack]
    assert set(result.outputs) == {o.name for o in OUTPUTS}
    assert result.secret_outputs == {o.name for o in OUTPUTS if o.secret}


def test_kubeconfig_and_grafana_password_are_secret_outputs():
    secret = {o.name for o in OUTPUTS if o.secret}
    assert {"kubeconfig", "grafana_admin_password"} <= secret


def test_prod_outputs_carry_what_other_teams_need(prod):
    out = prod.outputs
    assert out["cluster_api_url"].startswith("https://")
    assert set(out["pool_ids"]) == {"permanent", "compute", "low-latency"}
    assert set(out["critical_path_private_ips"]) == {"market-data", "strategy", "order-management"}
    assert out["s3_endpoint"] == "https://s3.fr-par.scw.cloud"
    assert out["alertmanager_config_secret"] == "monitoring/alertmanager-trading-platform"


def test_readme_output_table_is_the_contract():
    assert markdown_table() in (ROOT / "README.md").read_text()
