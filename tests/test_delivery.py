"""The GitHub Actions workflows: previews on pull requests, gated deploys on main."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import ROOT
from offline import engine as offline

WORKFLOWS = ROOT / ".github" / "workflows"
CREDENTIALS = ("PULUMI_ACCESS_TOKEN", "SCW_ACCESS_KEY", "SCW_SECRET_KEY", "SCW_DEFAULT_PROJECT_ID", "PAGERDUTY_TOKEN")
# The secrets that can change infrastructure, and the read-only ones previews use instead.
WRITE_SECRETS = {
    "PULUMI_ACCESS_TOKEN": "PULUMI_ACCESS_TOKEN",
    "SCW_ACCESS_KEY": "SCW_ACCESS_KEY",
    "SCW_SECRET_KEY": "SCW_SECRET_KEY",
    "PAGERDUTY_TOKEN": "PAGERDUTY_TOKEN",
}
READ_ONLY_SECRETS = {
    "PULUMI_ACCESS_TOKEN": "PULUMI_PREVIEW_TOKEN",
    "SCW_ACCESS_KEY": "SCW_PREVIEW_ACCESS_KEY",
    "SCW_SECRET_KEY": "SCW_PREVIEW_SECRET_KEY",
    "PAGERDUTY_TOKEN": "PAGERDUTY_PREVIEW_TOKEN",
}
DEPLOY_ENVIRONMENTS = {"development", "production"}


def workflow(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def pulumi_steps(job: dict) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_workflows_parse_and_every_step_does_something(name):
    doc = workflow(name)
    assert doc["jobs"], name
    for job_name, job in doc["jobs"].items():
        assert job["steps"], job_name
        for step in job["steps"]:
            assert step.get("uses") or step.get("run"), (job_name, step)


def test_pull_requests_run_the_tests_then_preview_every_stack():
    doc = workflow("pull-request.yml")
    assert "pull_request" in doc["on"]
    test_job = doc["jobs"]["test"]
    assert any(s.get("run") == "venv/bin/python -m pytest" for s in test_job["steps"])
    preview = doc["jobs"]["preview"]
    assert preview["needs"] == "test"
    assert sorted(preview["strategy"]["matrix"]["stack"]) == offline.stack_names()
    [step] = pulumi_steps(preview)
    assert step["with"]["command"] == "preview" and step["with"]["diff"] is True
    assert step["with"]["comment-on-pr"] is True and step["with"]["edit-pr-comment"] is True
    assert step["with"]["policyPacks"] == "policy"
    assert doc["permissions"]["pull-requests"] == "write"


def test_main_deploys_dev_then_prod_behind_an_approval():
    jobs = workflow("deploy.yml")["jobs"]
    assert jobs["up-prod"]["needs"] == "up-dev"
    assert jobs["up-prod"]["environment"] == "production"
    for job, stack in (("up-dev", "dev"), ("up-prod", "prod")):
        assert jobs[job]["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
        [step] = pulumi_steps(jobs[job])
        assert step["with"]["command"] == "up" and step["with"]["stack-name"].endswith(f"/{stack}")
        assert step["with"]["policyPacks"] == "policy"


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_credentials_only_from_repository_secrets(name):
    major = re.compile(r"^pulumi/actions@v(\d+)$")
    for job in workflow(name)["jobs"].values():
        for step in pulumi_steps(job):
            pinned = major.match(step["uses"])
            assert pinned is not None and int(pinned.group(1)) >= 7, step["uses"]  # current major
            env = step.get("env", {})
            expected = WRITE_SECRETS if step["with"]["command"] == "up" else READ_ONLY_SECRETS
            for variable, secret in {**expected, "SCW_DEFAULT_PROJECT_ID": "SCW_DEFAULT_PROJECT_ID"}.items():
                assert env.get(variable) == f"${{{{ secrets.{secret} }}}}", (name, variable)
            # IAM resources need the Organization (provider PR #4332); an id, not a secret.
            assert env.get("SCW_DEFAULT_ORGANIZATION_ID") == "${{ vars.SCW_DEFAULT_ORGANIZATION_ID }}", name
    text = (WORKFLOWS / name).read_text()
    assert not re.search(r"(SCW[A-Z0-9]{17}|pul-[0-9a-f]{40})", text)


def test_pull_request_code_never_sees_write_credentials_or_runs_for_forks():
    doc = workflow("pull-request.yml")
    assert "pull_request_target" not in doc["on"], "pull_request_target would hand fork code the secrets"
    for job_name, job in doc["jobs"].items():
        text = yaml.safe_dump(job)
        for secret in WRITE_SECRETS.values():
            assert f"secrets.{secret} " not in text and f"secrets.{secret}}}" not in text, (job_name, secret)
        if pulumi_steps(job):
            assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
            assert job["environment"] == "preview-${{ matrix.stack }}"
            assert job["environment"].split("-")[0] not in DEPLOY_ENVIRONMENTS


def test_write_credentials_live_only_in_the_gated_deploy_environments():
    for name in sorted(p.name for p in WORKFLOWS.glob("*.yml")):
        for job_name, job in workflow(name)["jobs"].items():
            text = yaml.safe_dump(job)
            uses_write = any(f"secrets.{s} " in text or f"secrets.{s}}}" in text for s in WRITE_SECRETS.values())
            if uses_write:
                assert job.get("environment") in DEPLOY_ENVIRONMENTS, (name, job_name)
                assert name == "deploy.yml", (name, job_name)
