"""The stack outputs other teams rely on: exactly the contract, secret where it says so."""

from __future__ import annotations

import base64
import re

import pytest

from components.outputs import OUTPUTS, markdown_table
from conftest import ROOT, STACKS
from offline import engine


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_match_the_contract(renders, stack):
    result = renders[stack]
    assert set(result.outputs) == {o.name for o in OUTPUTS}
    assert result.secret_outputs == {o.name for o in OUTPUTS if o.secret}


def test_no_output_hands_out_a_credential(renders):
    """Every team that reads the stack gets its outputs: no admin kubeconfig, no password, no key."""
    for result in renders.values():
        assert not result.secret_outputs
        assert not {name for name in result.outputs if re.search(r"kubeconfig|password|token|secret_key", name)}
        for value in result.outputs.values():
            assert "offline-token" not in str(value) and engine.GENERATED_PASSWORD not in str(value)


def test_consumers_get_the_api_address_and_its_ca(prod):
    assert prod.outputs["cluster_api_url"].startswith("https://")
    assert base64.b64decode(prod.outputs["cluster_ca_certificate"]).startswith(b"-----BEGIN CERTIFICATE-----")


def test_prod_outputs_carry_what_other_teams_need(prod):
    out = prod.outputs
    assert out["cluster_api_url"].startswith("https://")
    assert set(out["pool_ids"]) == {"permanent", "compute", "low-latency"}
    assert set(out["critical_path_private_ips"]) == {"market-data", "strategy", "order-management"}
    assert out["s3_endpoint"] == "https://s3.fr-par.scw.cloud"
    assert out["alertmanager_config_secret"] == "monitoring/alertmanager-trading-platform"


def test_readme_output_table_is_the_contract():
    assert markdown_table() in (ROOT / "README.md").read_text()
