"""docs/ci-examples.md: every YAML block parses, the GitHub workflows pass actionlint against this
repository's action.yml, and the GitLab and Kubernetes recipes say what their prose promises."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from docs_blocks import REPO, actionlint, workflow_project, yaml_blocks

BLOCKS = yaml_blocks()


def named(name: str) -> Any:
    [block] = [b for b in BLOCKS if b.name == name]
    return yaml.safe_load(block.text)


def test_the_page_has_the_recipes_the_readme_links_to() -> None:
    names = {b.name for b in BLOCKS}
    assert {
        ".github/workflows/streams-plan.yml",
        ".github/workflows/streams-apply.yml",
        ".github/workflows/streams-schema.yml",
        ".gitlab-ci.yml",
        "k8s/streams-reconciler.yaml",
        ".pre-commit-config.yaml",
    } <= names


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.name or f"line-{b.line}")
def test_each_yaml_block_parses(block: Any) -> None:
    documents = [d for d in yaml.safe_load_all(block.text) if d is not None]
    assert documents, f"docs/ci-examples.md:{block.line}: an empty YAML block"


def test_the_github_workflows_pass_actionlint(tmp_path: Path) -> None:
    workflows = {b.name: b.text for b in BLOCKS if b.name.startswith(".github/workflows/")}
    assert len(workflows) == 3
    result = actionlint(workflow_project(tmp_path, workflows))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_checks_the_inputs_against_our_action(tmp_path: Path) -> None:
    """The lint is live: a misspelt input and a missing output of the action are errors."""
    bad = """
name: bad
on: push
jobs:
  plan:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - id: plan
        uses: ./tools/reconciler
        with:
          comand: plan
      - run: echo "${{ steps.plan.outputs.markdown_file }}"
"""
    result = actionlint(workflow_project(tmp_path, {"bad.yml": bad}))
    assert result.returncode == 1
    assert 'input "comand" is not defined' in result.stdout, result.stdout
    assert "markdown_file" in result.stdout, result.stdout


def test_the_github_examples_use_the_action() -> None:
    plan = named(".github/workflows/streams-plan.yml")
    steps = plan["jobs"]["plan"]["steps"]
    ours = [s for s in steps if s.get("uses") == "./tools/reconciler"]
    assert [s["with"]["command"] for s in ours] == ["validate", "plan"]
    assert ours[1]["with"]["api-key"] == "${{ secrets.GCORE_API_KEY }}"
    comment = steps[-2]
    assert comment["with"]["path"] == "${{ steps.plan.outputs.markdown-file }}"
    apply = named(".github/workflows/streams-apply.yml")
    [step] = [s for s in apply["jobs"]["apply"]["steps"] if s.get("uses") == "./tools/reconciler"]
    assert step["with"]["command"] == "apply"


def test_the_gitlab_recipe_plans_on_merge_requests_and_applies_one_at_a_time() -> None:
    gitlab = named(".gitlab-ci.yml")
    plan, apply = gitlab["streams-plan"], gitlab["streams-apply"]
    assert plan["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    script = "\n".join(plan["script"])
    assert "--output markdown --detailed-exitcode > plan.md" in script
    assert "merge_requests/$CI_MERGE_REQUEST_IID/notes" in script and "body@plan.md" in script
    assert apply["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert apply["resource_group"] == "streams-apply"
    assert apply["variables"]["RECONCILER_LOCK_OWNER"] == "$CI_JOB_URL"
    assert any(line.startswith("reconciler apply manifests/ --yes") for line in apply["script"])
    for job in (plan, apply):
        assert gitlab[job["extends"]]["before_script"]  # installs reconciler


def _mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_the_cronjob_forbids_overlap_reads_the_key_from_a_secret_and_fits_the_benchmarks() -> None:
    cronjob = named("k8s/streams-reconciler.yaml")
    assert (cronjob["apiVersion"], cronjob["kind"]) == ("batch/v1", "CronJob")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["GCORE_API_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "GCORE_API_KEY"
    assert "value" not in env["GCORE_API_KEY"]
    assert container["args"][:3] == ["apply", "/manifests", "--yes"]
    assert "--log-format" in container["args"]
    # Sized from the benchmarks' memory figures: the largest peak RSS measured fits the request.
    performance = (REPO / "docs" / "performance.md").read_text(encoding="utf-8")
    peak = max(int(mb) for mb in re.findall(r"maxrss (\d+) MB", performance))
    requested = _mebibytes(container["resources"]["requests"]["memory"])
    limit = _mebibytes(container["resources"]["limits"]["memory"])
    assert peak <= requested <= limit


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_the_readme_links_each_integration_to_a_section_that_exists() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Where it runs") : readme.index("Credentials follow")]
    links = re.findall(r"\]\(([^)#]+)#([^)]+)\)", table)
    assert {target for _, target in links} >= {
        "github-actions-the-reconciler-action",
        "gitlab-ci",
        "kubernetes-cronjob",
        "pre-commit-hook",
        "editors-and-the-schema",
        "installing",
        "logs-for-machines---log-format-json-plan-apply-status",
    }
    for page, anchor in links:
        assert anchor in _anchors(REPO / page), f"README links to {page}#{anchor}: no such heading"
