"""`harvest source …` and `harvest crawl` input handling, through the real CLI and database."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harvest.settings import Settings, settings_env
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def env(db_settings: Settings) -> dict[str, str]:
    return {k: v for k, v in settings_env(db_settings).items() if k.startswith("HARVEST_")}


def ok(env: dict[str, str], *args: str) -> str:
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def fails(env: dict[str, str], *args: str, code: int = 2) -> str:
    result = run_cli(*args, env=env)
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_add_show_edit_list_remove(env: dict[str, str]) -> None:
    ok(
        env,
        "source",
        "add",
        "news",
        "--url",
        "https://news.example.org/",
        "--include",
        r"/20\d\d/",
        "--max-pages",
        "50",
        "--label",
        "topic=news",
        "--render-rule",
        r"/live/=browser",
    )
    shown = yaml.safe_load(ok(env, "source", "show", "news"))["sources"][0]
    assert shown["allowed_domains"] == ["news.example.org"]
    assert shown["labels"] == {"topic": "news"}
    assert shown["render_rules"] == [{"pattern": "/live/", "render": "browser"}]
    ok(env, "source", "edit", "news", "--max-pages", "10", "--render", "browser", "--wait-for", "#main")
    shown = yaml.safe_load(ok(env, "source", "show", "news"))["sources"][0]
    assert (shown["max_pages"], shown["render"], shown["wait_for"]) == (10, "browser", "#main")
    assert "news.example.org" in ok(env, "source", "list")
    ok(env, "source", "remove", "news", "--yes")
    assert "no source named 'news'" in fails(env, "source", "show", "news")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["source", "add", "x", "--url", "ftp://example.org/"], "only http and https"),
        (["source", "add", "x", "--url", "not a url"], "only http and https"),
        (["source", "add", "x", "--url", "https://e.org/", "--include", "(unclosed"], "not a valid regular"),
        (["source", "add", "x"], "at least one start URL"),
        (["source", "add", "bad name", "--url", "https://e.org/"], "not a valid source name"),
        (["source", "add", "x", "--url", "https://e.org/", "--render", "magic"], "render"),
        (["source", "add", "x", "--url", "https://e.org/", "--schedule", "often"], "not a cron schedule"),
        (["source", "add", "x", "--url", "https://e.org/", "--schedule", "61 25 * * *"], "out of range"),
        (["source", "add", "x", "--url", "https://e.org/", "--schedule", "0 0 31 2 *"], "never fires"),
        (["source", "remove", "missing"], "no source named 'missing' (see `harvest source list`)"),
        (["source", "add", "x", "--url", "https://e.org/", "--label", "novalue"], "KEY=VALUE"),
        (["source", "edit", "missing", "--max-pages", "3"], "no source named 'missing'"),
        (["crawl", "missing"], "no source named 'missing'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(env: dict[str, str], args: list[str], message: str) -> None:
    assert message in fails(env, *args)


def test_duplicate_name_conflicts_and_keeps_the_first(env: dict[str, str]) -> None:
    ok(env, "source", "add", "dup", "--url", "https://one.example.org/")
    assert "exists" in fails(env, "source", "add", "dup", "--url", "https://two.example.org/")
    assert "one.example.org" in ok(env, "source", "show", "dup")
    ok(env, "source", "remove", "dup", "--yes")


def test_apply_is_declarative_and_idempotent(env: dict[str, str], tmp_path: Path) -> None:
    file = tmp_path / "sources.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "sources": [
                    {"name": "blog", "start_urls": ["https://blog.example.org/"], "max_depth": 2},
                    {
                        "name": "shop",
                        "sitemap_urls": ["https://shop.example.org/sitemap.xml"],
                        "labels": {"kind": "product"},
                        "schedule": "0 3 * * *",
                    },
                ]
            }
        )
    )
    assert "created: blog, shop" in ok(env, "source", "apply", str(file))
    assert "unchanged: blog, shop" in ok(env, "source", "apply", str(file))

    exported = tmp_path / "export.yaml"
    ok(env, "source", "export", str(exported))
    assert "unchanged: blog, shop" in ok(env, "source", "apply", str(exported))

    data = yaml.safe_load(file.read_text())
    data["sources"][0]["max_depth"] = 5
    data["sources"] = data["sources"][:1]
    file.write_text(yaml.safe_dump(data))
    out = ok(env, "source", "apply", str(file), "--prune")
    assert "updated: blog" in out and "removed: shop" in out


def test_apply_with_one_bad_source_changes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "sources": [
                    {"name": "fine", "start_urls": ["https://fine.example.org/"]},
                    {"name": "broken", "start_urls": ["gopher://old.example.org/"]},
                ]
            }
        )
    )
    assert "source 'broken'" in fails(env, "source", "apply", str(file))
    assert "fine" not in ok(env, "source", "list")
    file.write_text("sources: [unclosed")
    assert "not valid YAML" in fails(env, "source", "apply", str(file))


def test_schedules_json_and_ipv6_hosts_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    import json

    ok(env, "source", "add", "v6", "--url", "http://[::1]:18092/", "--schedule", "@daily")
    listed = json.loads(ok(env, "source", "list", "--json"))
    v6 = next(s for s in listed if s["name"] == "v6")
    assert v6["allowed_domains"] == ["::1"] and v6["schedule"] == "@daily"
    schedules = json.loads(ok(env, "schedule", "list", "--json"))
    assert [s["source"] for s in schedules] == ["v6"] and schedules[0]["next_at"]
    ok(env, "source", "edit", "v6", "--schedule", "none")  # removes the schedule
    assert json.loads(ok(env, "source", "show", "v6", "--json"))["schedule"] is None
    assert "no schedules" in ok(env, "schedule", "list")
    file = tmp_path / "cron.yaml"
    file.write_text(
        yaml.safe_dump(
            {"sources": [{"name": "c", "start_urls": ["https://e.org/"], "schedule": "99 99 99 99 99"}]}
        )
    )
    assert "out of range" in fails(env, "source", "apply", str(file))
    refused = run_cli("source", "remove", "v6", env=env)  # no terminal to ask on: refused, not guessed
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    ok(env, "source", "remove", "v6", "--yes")
