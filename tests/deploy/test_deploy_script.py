"""deploy/deploy.sh's decisions: which tag runs after a deploy that succeeds, and after one whose
migrations, start or smoke test fail. No Docker engine runs here, so `docker` and `curl` are stand-ins
that record what they were asked and fail where a test says; the script itself runs for real."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.compose_files import DEPLOY

FAKE_DOCKER = """#!/bin/sh
tag=$(sed -n 's/^IMAGE_TAG=//p' "$HARVEST_DEPLOY_ENV_FILE")
echo "docker $* [$tag]" >> "$CALLS"
case " $* " in
  *" run --rm migrate "*) [ "$FAIL" = migrate ] && [ "$tag" = "$BAD" ] && exit 1 ;;
  *" up -d "*) [ "$FAIL" = up ] && [ "$tag" = "$BAD" ] && exit 1 ;;
  *" pull "*) [ "$FAIL" = pull ] && [ "$tag" = "$BAD" ] && exit 1 ;;
esac
exit 0
"""
FAKE_CURL = """#!/bin/sh
tag=$(sed -n 's/^IMAGE_TAG=//p' "$HARVEST_DEPLOY_ENV_FILE")
echo "curl [$tag]" >> "$CALLS"
[ "$FAIL" = smoke ] && [ "$tag" = "$BAD" ] && exit 22
exit 0
"""


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A VPS checkout: deploy/ with the script and an .env running tag `v1`."""
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    shutil.copy(DEPLOY / "deploy.sh", deploy / "deploy.sh")
    (deploy / ".env").write_text("DOMAIN=example.org\nIMAGE_TAG=v1\nPOSTGRES_PASSWORD=x\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("docker", FAKE_DOCKER), ("curl", FAKE_CURL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return tmp_path


def deploy(host: Path, *args: str, fail: str = "", bad: str = "v2") -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{host / 'bin'}:/usr/bin:/bin",
        "HARVEST_DEPLOY_ENV_FILE": str(host / "deploy" / ".env"),
        "CALLS": str(host / "calls"),
        "FAIL": fail,
        "BAD": bad,
        "HARVEST_SMOKE_TRIES": "2",
        "HARVEST_SMOKE_WAIT_S": "0",
    }
    return subprocess.run(
        ["/bin/bash", str(host / "deploy" / "deploy.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def running_tag(host: Path) -> str:
    return next(
        line.split("=", 1)[1]
        for line in (host / "deploy" / ".env").read_text().splitlines()
        if line.startswith("IMAGE_TAG=")
    )


def test_a_good_deploy_pulls_migrates_starts_and_smoke_tests_the_new_tag(host: Path) -> None:
    result = deploy(host, "v2")
    assert result.returncode == 0, result.stderr
    assert running_tag(host) == "v2" and (host / "deploy" / ".env").read_text().startswith("DOMAIN=")
    calls = (host / "calls").read_text().splitlines()
    order = (" pull ", " run --rm migrate ", " up -d ", "curl ")
    assert [next(s for s in order if s in c) for c in calls] == list(order)
    assert all(c.endswith("[v2]") for c in calls)
    assert (host / "deploy" / ".previous-tag").read_text().strip() == "v1"

    again = deploy(host, "rollback")
    assert again.returncode == 0 and running_tag(host) == "v1"


@pytest.mark.parametrize("fail", ["migrate", "up", "smoke"])
def test_a_failed_step_brings_the_previous_tag_back(host: Path, fail: str) -> None:
    result = deploy(host, "v2", fail=fail)
    assert result.returncode == 1
    assert "rolling back to v1" in result.stdout + result.stderr
    assert running_tag(host) == "v1"
    last_up = [c for c in (host / "calls").read_text().splitlines() if " up -d " in c][-1]
    assert last_up.endswith("[v1]")
    assert not (host / "deploy" / ".previous-tag").exists()


def test_an_image_that_cannot_be_pulled_changes_nothing(host: Path) -> None:
    result = deploy(host, "v2", fail="pull")
    assert result.returncode == 1 and "could not pull" in result.stderr
    assert running_tag(host) == "v1"
    assert " up -d " not in (host / "calls").read_text()


def test_bad_arguments_are_refused(host: Path) -> None:
    assert deploy(host, "v2; rm -rf /").returncode == 1
    assert deploy(host).returncode == 2
    assert running_tag(host) == "v1"
