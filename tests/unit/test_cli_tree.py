"""Every command of the CLI, found from the Typer app itself (so commands added later are covered), given
the mistakes people make: an unknown option, a missing argument, a word where a number goes. Each must
answer with click's usage message and exit 2, never a Python traceback. Usage errors are found while
parsing, before a command runs, so this walks the whole tree in-process in about a second."""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

from harvest.cli.app import app, main

Command = Any  # typer 0.29's own click: commands and parameters are its classes, not click's


def commands(group: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    group = group or typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    for name, command in sorted(group.commands.items()):
        if isinstance(command, TyperGroup):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def numeric(param: Any) -> bool:
    """An int or float parameter (optional or not), where "abc" must be refused."""
    annotation = param.type_descriptor.annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next((a for a in typing.get_args(annotation) if a is not type(None)), None)
    return annotation in (int, float)


CLI = typer.main.get_command(app)  # built once: main() runs it as it runs the Typer app
LEAVES = list(commands())
IDS = [" ".join(path) for path, _ in LEAVES]


def run(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    import harvest.cli.app as cli_app

    monkeypatch.setattr(cli_app, "app", CLI)
    monkeypatch.setattr(sys, "argv", ["harvest", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "Traceback" not in output, output
    code = stopped.value.code
    return code if isinstance(code, int) else 1, output


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may touch a real installation (and a usage error never gets that far)."""
    from harvest.settings import get_settings

    monkeypatch.setenv("HARVEST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()


def test_the_tree_is_walked() -> None:
    assert len(LEAVES) >= 40
    assert {"search", "source add", "runs show", "entities dedupe", "completion"} <= set(IDS)


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_an_unknown_option_is_a_usage_error(
    path: tuple[str, ...],
    command: Command,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = run([*path, "--no-such-option"], monkeypatch, capsys)
    assert code == 2, output
    assert "Usage: harvest" in output and "No such option: --no-such-option" in output


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_missing_arguments_and_bad_numbers_are_usage_errors(
    path: tuple[str, ...],
    command: Command,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    required = [p for p in command.params if p.required]
    if required:  # without its required arguments/options the command never starts
        code, output = run(list(path), monkeypatch, capsys)
        assert code == 2, output
        assert "Usage: harvest" in output and "Missing" in output
    for param in command.params:
        if not numeric(param):
            continue
        args = [*path, "abc"] if param.param_type_name == "argument" else [*path, param.opts[0], "abc"]
        code, output = run(args, monkeypatch, capsys)
        assert code == 2, (args, output)
        assert "Usage: harvest" in output, output


def test_an_unknown_command_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run(["nosuchcommand"], monkeypatch, capsys)
    assert code == 2 and "No such command 'nosuchcommand'" in output


@pytest.mark.parametrize(
    "args",
    [
        ["entities", "import", "."],  # a folder given as an input file
        ["entities", "dedupe", ".", "--fields", "name"],
        ["source", "apply", "."],
        ["entities", "dedupe", "in.csv", "--fields", "name", "--out", "no/such/folder/out.csv"],
        ["source", "export", "no/such/folder/sources.yaml"],
        ["source", "export", "."],
    ],
)
def test_unusable_files_are_usage_errors(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in.csv").write_text("name\nAcme\n")
    code, output = run(args, monkeypatch, capsys)
    assert code == 2, output
    assert "Usage: harvest" in output and ("folder" in output or "directory" in output), output


def test_a_confirmation_without_a_terminal_is_refused_not_guessed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harvest.cli.output import confirm
    from harvest.errors import InvalidInputError

    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    with pytest.raises(InvalidInputError, match="pass --yes"):
        confirm("Remove source 'x'?")


def test_answering_no_aborts_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise typer.Abort()

    monkeypatch.setattr(typer, "confirm", refuse)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys, "argv", ["harvest", "bash"])
    import harvest.cli.app as cli_app

    def confirm_then_print(shell: str) -> None:
        from harvest.cli.output import confirm

        confirm("Really?")

    monkeypatch.setattr(cli_app, "app", typer.Typer())
    cli_app.app.command()(confirm_then_print)
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 1
    assert capsys.readouterr().err.strip() == "error: aborted"


def test_shell_completion_scripts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run(["completion", "bash"], monkeypatch, capsys)
    assert code == 0 and "_HARVEST_COMPLETE" in output and "complete " in output
    code, output = run(["completion", "tcsh"], monkeypatch, capsys)
    assert code == 2 and "bash, zsh, fish, powershell" in output
