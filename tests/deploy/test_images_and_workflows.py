"""Static checks of the Dockerfile, .dockerignore and the GitHub workflows (hadolint and actionlint run
in `make lint`; these check what they cannot: that the pieces fit each other and Harvest)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvest.settings import Settings
from tests.deploy.compose_files import COMPOSE_FILES, DEPLOY, ROOT, load_raw, services
from tests.deploy.test_compose import _resolve

DOCKERFILE = DEPLOY / "Dockerfile"
WORKFLOWS = ROOT / ".github" / "workflows"


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _stages(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Each build stage's instructions, by stage name; global ARG defaults substituted into FROM."""
    args: dict[str, str] = {}
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for word, rest in _instructions(path):
        if word == "ARG" and current is None and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
        elif word == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], rest.split()[0])
            name = rest.split()[-1] if " AS " in rest.upper() else image
            current = stages.setdefault(name, [("FROM", image)])
        elif current is not None:
            current.append((word, rest))
    return stages


def test_the_build_is_multi_stage_from_pinned_base_images() -> None:
    stages = _stages(DOCKERFILE)
    assert {"frontend", "python-build", "app", "crawler", "embeddings"} <= set(stages)
    for name, instructions in stages.items():
        base = instructions[0][1]
        if base in stages:
            continue  # built on another stage of this file
        tag = base.split(":", 1)[1] if ":" in base else ""
        assert re.fullmatch(r"\d+\.\d+\.\d+-[\w.-]+", tag) or "@sha256:" in base, f"{name}: {base} unpinned"


def _last(instructions: list[tuple[str, str]], word: str, stages: dict[str, Any]) -> str | None:
    value = next((rest for w, rest in reversed(instructions) if w == word), None)
    parent = instructions[0][1]
    if value is None and parent in stages:
        return _last(stages[parent], word, stages)
    return value


def test_runtime_images_run_harvest_as_a_non_root_user() -> None:
    stages = _stages(DOCKERFILE)
    for name in ("app", "crawler", "embeddings"):
        user = _last(stages[name], "USER", stages)
        assert user is not None and user.split(":")[0] not in ("root", "0"), f"{name} runs as {user}"
        assert json.loads(_last(stages[name], "ENTRYPOINT", stages) or "[]") == ["harvest"]
        _resolve(json.loads(_last(stages[name], "CMD", stages) or "[]"))
        for word, rest in stages[name]:
            if word == "ENV":
                for setting in re.findall(r"\b(HARVEST_\w+)=", rest):
                    assert setting.removeprefix("HARVEST_").lower() in Settings.model_fields, setting


def test_compose_builds_only_stages_that_exist() -> None:
    stages = _stages(DOCKERFILE)
    for path in COMPOSE_FILES:
        for service in services(load_raw(path)):
            build = service.spec.get("build")
            if build:
                assert build["dockerfile"] == "deploy/Dockerfile" and build["context"] == ".."
                assert build["target"] in stages, f"{path.name} {service.name}: no stage {build['target']}"


def test_the_frontend_stage_builds_what_the_api_serves() -> None:
    frontend = ROOT / "frontend"
    if not frontend.is_dir():
        pytest.skip("frontend/ is not in this checkout yet")
    stage = dict(_stages(DOCKERFILE)["frontend"][1:])
    runs = [rest for word, rest in _stages(DOCKERFILE)["frontend"] if word == "RUN"]
    assert any(run.startswith("npm ci") for run in runs) and "npm run build" in runs
    assert "build" in json.loads((frontend / "package.json").read_text())["scripts"]
    assert (frontend / "package-lock.json").exists()
    out_dir = re.search(r"outDir:\s*\"([^\"]+)\"", (frontend / "vite.config.ts").read_text())
    assert out_dir is not None
    built = (Path(stage["WORKDIR"]) / out_dir[1]).resolve()
    copies = [rest for word, rest in _stages(DOCKERFILE)["python-build"] if word == "COPY"]
    assert any(c.startswith(f"--from=frontend {built} ") for c in copies), f"{built} is not copied"
    assert any(c.endswith("site-packages/harvest/api/static") for c in copies)


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert lines[0] == "**", "start from nothing and allow what the images are built from"
    allowed = [line[1:] for line in lines if line.startswith("!")]
    assert all(not a.startswith((".env", ".venv", ".git", "data", "tests", "bench")) for a in allowed)
    assert "**/.env" in lines and "frontend/node_modules/" in lines


def _workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict)
    return data


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("name", ["ci.yml", "data-update.yml", "deploy.yml"])
def test_workflows_pin_every_action_to_a_commit(name: str) -> None:
    for step in _steps(_workflow(name)):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_ci_runs_the_same_make_test_as_developers() -> None:
    workflow = _workflow("ci.yml")
    assert {"push", "pull_request"} <= set(workflow[True])  # YAML 1.1 reads the key `on` as True
    runs = [step.get("run", "") for step in _steps(workflow)]
    assert any("bash .ci/run" in run for run in runs)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_data_updates_run_the_script_with_the_token_from_secrets() -> None:
    workflow = _workflow("data-update.yml")
    assert workflow[True]["schedule"][0]["cron"]
    step = next(s for s in _steps(workflow) if "update_data.py" in s.get("run", ""))
    assert step["env"]["HARVEST_API_TOKEN"] == "${{ secrets.HARVEST_API_TOKEN }}"


def test_deploy_builds_every_image_compose_runs() -> None:
    workflow = _workflow("deploy.yml")
    built = {
        (entry["suffix"], entry["target"])
        for entry in workflow["jobs"]["images"]["strategy"]["matrix"]["include"]
    }
    for path in COMPOSE_FILES:
        for service in services(load_raw(path)):
            if not service.ours:
                continue
            suffix = re.search(r"\}([\w-]*):\$\{IMAGE_TAG", str(service.spec["image"]))
            assert suffix is not None
            assert suffix[1] in {s for s, _ in built}, f"{path.name} {service.name}: image never built"
            build = service.spec.get("build")
            if build:
                assert (suffix[1], build["target"]) in built
    runs = "\n".join(step.get("run", "") for step in _steps(workflow))
    assert "deploy/deploy.sh" in runs and "rollback" in runs and "/api/health" in runs
