"""`harvest embed`, `harvest models …` and `harvest embeddings serve`."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from harvest.cli.context import settings
from harvest.cli.output import console, escape

models_app = typer.Typer(
    help="Embedding models with stored vectors, and which one search uses.", no_args_is_help=True
)
service_app = typer.Typer(help="The embeddings service (OpenAI-compatible).", no_args_is_help=True)


def embed(
    model: str | None = typer.Option(
        None, help="Model name or local path (default: HARVEST_EMBEDDING_MODEL)."
    ),
) -> None:
    """Embed every chunk that has no vector for the model yet (only what is missing; resumable)."""
    from harvest.embeddings.stage import embed_pending
    from harvest.embeddings.store import check_model_name

    if model is not None:
        check_model_name(model)
    with Progress(
        TextColumn("embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks {task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("embed", total=None, rate="")
        report = embed_pending(
            settings(),
            model,
            on_progress=lambda done, total, rate: progress.update(
                task, completed=done, total=total, rate=f"{rate:.0f}/s"
            ),
        )
    if report.embedded == 0:
        console.print(f"nothing to embed: every chunk has a vector for {escape(report.model)}")
        return
    console.print(
        f"embedded {report.embedded} chunks with {escape(report.model)} in {report.seconds:.1f}s "
        f"({report.rate:.0f} chunks/s)"
    )
    if report.truncated:
        console.print(
            f"[yellow]{report.truncated} chunks were over the model's token limit and were truncated[/]"
        )


@models_app.command("list")
def list_command() -> None:
    """Models with vectors: dimension, coverage of the chunks, and the active one."""
    from harvest.db.engine import get_engine
    from harvest.embeddings.store import list_models

    table = Table("model", "dimension", "vectors", "chunks", "active")
    for model in list_models(get_engine(settings())):
        table.add_row(
            escape(model.name),
            str(model.dimension),
            str(model.vectors),
            str(model.chunks),
            "[green]active[/]" if model.active else "",
        )
    console.print(table)


@models_app.command("activate")
def activate(
    name: str,
    force: bool = typer.Option(False, help="Activate even though some chunks have no vector for it yet."),
) -> None:
    """Make a model the one search uses (atomic: searches never see a gap)."""
    from harvest.db.engine import get_engine
    from harvest.embeddings.store import activate_model, check_model_name

    model = activate_model(get_engine(settings()), check_model_name(name), force=force)
    console.print(
        f"active model: {escape(model.name)} ({model.vectors} vectors, dimension {model.dimension})"
    )


@service_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8001, min=1, max=65535),
    model: str | None = typer.Option(None, help="Model name or path (default: HARVEST_EMBEDDING_MODEL)."),
    max_inputs: int = typer.Option(2048, help="Most strings per request (more: 413)."),
) -> None:
    """Serve /v1/embeddings, /v1/models and /health for one model (bearer token: HARVEST_EMBEDDINGS_TOKEN)."""
    import uvicorn

    from harvest.embeddings.backend import longest_chunk
    from harvest.embeddings.encoder import load_encoder
    from harvest.embeddings.service import create_app

    current = settings()
    encoder = load_encoder(
        model or current.embedding_model,
        current.embedding_device,
        current.embedding_threads,
        current.embedding_batch_size,
        current.embedding_max_tokens,
        longest_chunk(current),
    )
    token = current.embeddings_token.get_secret_value() if current.embeddings_token else None
    console.print(
        f"serving {escape(encoder.name)} on http://{host}:{port} ({encoder.device}, dim {encoder.dimension})"
    )
    uvicorn.run(
        create_app(encoder, token=token, max_inputs=max_inputs), host=host, port=port, log_level="warning"
    )
