"""The root of the `harvest` CLI, and the one place where errors become exit codes."""

from __future__ import annotations

import logging
import signal
import sys

import typer
from rich.table import Table
from typer._click.exceptions import ClickException

from harvest import __version__
from harvest.cli import backup as backup_commands
from harvest.cli import config as config_commands
from harvest.cli import crawl as crawl_commands
from harvest.cli import db as db_commands
from harvest.cli import embeddings as embeddings_commands
from harvest.cli import entities as entities_commands
from harvest.cli import jobs as jobs_commands
from harvest.cli import process as process_commands
from harvest.cli import search as search_commands
from harvest.cli import source as source_commands
from harvest.cli import train as train_commands
from harvest.cli import up as up_commands
from harvest.cli.context import settings
from harvest.cli.output import JSON_OPTION, console, error_line, print_json
from harvest.errors import HarvestError
from harvest.logs import configure_logging

app = typer.Typer(
    name="harvest",
    help="Harvest: crawl the web into searchable, ML-ready data and trained models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion; `harvest completion SHELL` too
)
app.add_typer(db_commands.app, name="db")
app.add_typer(config_commands.app, name="config")
app.add_typer(source_commands.app, name="source")
app.add_typer(crawl_commands.runs_app, name="runs")
app.command("crawl")(crawl_commands.crawl)
app.command("process")(process_commands.process)
app.add_typer(process_commands.documents_app, name="documents")
app.command("embed")(embeddings_commands.embed)
app.add_typer(embeddings_commands.models_app, name="embedding-models")
app.add_typer(embeddings_commands.service_app, name="embeddings")
app.command("search")(search_commands.search)
app.add_typer(search_commands.eval_app, name="eval")
app.add_typer(search_commands.api_app, name="api")
app.command("worker")(jobs_commands.worker)
app.command("scheduler")(jobs_commands.scheduler)
app.command("run")(jobs_commands.run)
app.add_typer(jobs_commands.pipelines_app, name="pipelines")
app.add_typer(jobs_commands.schedule_app, name="schedule")
app.add_typer(entities_commands.app, name="entities")
app.command("up")(up_commands.up)
app.command("demo")(up_commands.demo)
app.add_typer(backup_commands.app, name="backup")
app.add_typer(train_commands.dataset_app, name="dataset")
app.command("train")(train_commands.train)
app.add_typer(train_commands.models_app, name="models")
app.command("predict")(train_commands.predict)
app.add_typer(train_commands.lineage_app, name="lineage")
jobs_commands.pipelines_app.command("add-stage")(train_commands.add_stage)
jobs_commands.pipelines_app.command("remove-stage")(train_commands.remove_stage)
jobs_commands.pipelines_app.command("stages")(train_commands.stages)


def _version(value: bool) -> None:
    if value:
        console.print(f"harvest {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Harvest's command line."""
    configure_logging(settings().log_level)


@app.command()
def status(as_json: bool = JSON_OPTION) -> None:
    """Start what is embedded and check every store: database, raw store, object store."""
    from dataclasses import asdict

    from harvest.backup import backup_status
    from harvest.cli.backup import backup_line
    from harvest.cli.db import show_status
    from harvest.health import check_stack

    health = check_stack(settings())
    if as_json:
        print_json(asdict(health) | {"backup": backup_status(settings()).to_json()})
        return
    show_status(health.database)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for store in health.stores:
        table.add_row(store.name, f"{store.backend}: {store.detail}")
    table.add_row("backups", backup_line(settings()))
    console.print(table)


SHELLS = ("bash", "zsh", "fish", "powershell")


@app.command()
def completion(
    shell: str = typer.Argument(..., help=f"One of: {', '.join(SHELLS)}."),
) -> None:
    """Print the shell completion script, e.g. `eval "$(harvest completion bash)"` in ~/.bashrc
    (or run `harvest --install-completion` to install it for the current shell)."""
    from typer._completion_shared import get_completion_script

    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell!r} is not one of {', '.join(SHELLS)}", param_hint="SHELL")
    sys.stdout.write(
        get_completion_script(prog_name="harvest", complete_var="_HARVEST_COMPLETE", shell=shell) + "\n"
    )


def main() -> None:
    """Entry point: run the CLI; map Harvest's errors to one line on stderr and their exit code."""
    # A process started with SIGINT ignored (as some launchers and test runners do) would otherwise
    # ignore Ctrl-C for good: Python only installs its handler when SIGINT is not ignored at start.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = app(standalone_mode=False)
    except HarvestError as error:
        error_line(error.cli_message)
        sys.exit(error.exit_code)
    except typer.Abort:
        error_line("aborted")
        sys.exit(1)
    except ClickException as error:
        # typer 0.29 ships its own click (`typer._click`): its usage errors are not `click`'s classes.
        error.show()
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        error_line("interrupted")
        sys.exit(130)
    except OSError as error:
        # a file or folder the user named that cannot be used: one line, not a traceback
        where = f"{error.filename}: " if error.filename else ""
        error_line(f"{where}{error.strerror or error}")
        sys.exit(74)  # EX_IOERR
    except Exception as error:
        # a bug: one line to the user, the traceback in the log (HARVEST_LOG_LEVEL=DEBUG shows it)
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        error_line(
            f"internal error ({type(error).__name__}: {error}); "
            "rerun with HARVEST_LOG_LEVEL=DEBUG for the traceback, and please report it"
        )
        sys.exit(70)  # EX_SOFTWARE
    sys.exit(code if isinstance(code, int) else 0)
