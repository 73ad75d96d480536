"""Every README block marked runnable works as written, on a fresh database.

A block joins by an HTML comment right above its opening fence that starts with `<!-- runnable`:

    <!-- runnable -->
    ```bash
    harvest source add docs --url https://docs.example.org/
    ```

Blocks run in README order, each as one `bash -euo pipefail` script, in one folder and one database
(later blocks see what earlier ones made). Hosts under example.org are replaced by the bundled demo
site on 127.0.0.1; `harvest` and `.venv/bin/harvest` are this checkout's. Mark only blocks that run in
seconds and need no network: the suite's time is shared.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harvest.demo.site import DemoSite
from harvest.settings import Settings, settings_env

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"^<!-- runnable[^\n]*-->\n```(?:bash|sh)\n(.*?)^```", re.MULTILINE | re.DOTALL)
BASH = shutil.which("bash") or "/bin/bash"
EXAMPLE_HOST = re.compile(r"https?://(?:[\w-]+\.)*example\.org/?")


def runnable_blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def test_blocks_are_found() -> None:
    blocks = runnable_blocks()
    assert len(blocks) >= 2 and all(block.strip() for block in blocks)


def test_runnable_readme_blocks_work_as_written(fresh_db_settings: Settings, tmp_path: Path) -> None:
    venv_bin = Path(sys.executable).parent
    (tmp_path / ".venv").symlink_to(venv_bin.parent)
    settings = fresh_db_settings.model_copy(update={"crawl_allowed_hosts": ["127.0.0.1"]})
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    env |= {k: v for k, v in settings_env(settings).items() if k.startswith("HARVEST_")}
    env |= {"PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "160"}
    with DemoSite() as site:
        for number, block in enumerate(runnable_blocks(), start=1):
            script = EXAMPLE_HOST.sub(site.base + "/", block)
            done = subprocess.run(
                [BASH, "-euo", "pipefail", "-c", script],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, (
                f"README block {number} failed:\n{block}\n{done.stdout}\n{done.stderr}"
            )
            assert "Traceback" not in done.stderr, done.stderr
