"""datasets, snapshots, training runs, predictions, retraining (harvest.train)

Revision ID: 0013
Revises: 0008
Create Date: 2026-11-25 15:10:00.000000

MLflow's own tables live in a separate database (see harvest.train.tracking) and are migrated by MLflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def _created() -> sa.Column[datetime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _jsonb(name: str) -> sa.Column[dict[str, object]]:
    return sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False)


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("task", sa.String(length=16), server_default="classify", nullable=False),
        _jsonb("definition"),
        sa.Column("description", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("task IN ('classify', 'multilabel')", name=op.f("ck_datasets_task")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_datasets_name")),
    )
    op.create_table(
        "dataset_labels",
        sa.Column("dataset_id", sa.BigInteger(), nullable=False),
        sa.Column("document_id", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_labels_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_dataset_labels_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", "document_id", "label", name=op.f("pk_dataset_labels")),
    )
    op.create_index(op.f("ix_dataset_labels_document_id"), "dataset_labels", ["document_id"], unique=False)
    op.create_table(
        "dataset_snapshots",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("dataset_id", sa.BigInteger(), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("embedding_model", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        _jsonb("manifest"),
        _created(),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_snapshots_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_snapshots")),
    )
    op.create_index(
        op.f("ix_dataset_snapshots_dataset_id"), "dataset_snapshots", ["dataset_id"], unique=False
    )
    op.create_table(
        "snapshot_documents",
        sa.Column("snapshot_id", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.BigInteger(), nullable=False),
        sa.Column("page_id", sa.BigInteger(), nullable=False),
        sa.Column("page_version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("split", sa.String(length=16), nullable=False),
        sa.Column("labels", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.CheckConstraint(
            "split IN ('train', 'validation', 'test')", name=op.f("ck_snapshot_documents_split")
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["dataset_snapshots.id"],
            name=op.f("fk_snapshot_documents_snapshot_id_dataset_snapshots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("snapshot_id", "document_id", name=op.f("pk_snapshot_documents")),
    )
    op.create_index(
        op.f("ix_snapshot_documents_document_id"), "snapshot_documents", ["document_id"], unique=False
    )
    op.create_table(
        "training_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("dataset_id", sa.BigInteger(), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("trigger", sa.String(length=16), server_default="cli", nullable=False),
        _jsonb("params"),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("snapshot_id", sa.String(length=64), nullable=True),
        sa.Column("mlflow_run_id", sa.String(length=64), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        _jsonb("metrics"),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f("ck_training_runs_status")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_training_runs_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_runs")),
    )
    op.create_index(op.f("ix_training_runs_dataset_id"), "training_runs", ["dataset_id"], unique=False)
    op.create_index(op.f("ix_training_runs_model_name"), "training_runs", ["model_name"], unique=False)
    op.create_table(
        "predictions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("document_id", sa.BigInteger(), nullable=False),
        sa.Column("page_version", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("labels", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        _jsonb("probabilities"),
        _created(),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_predictions_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint(
            "document_id",
            "model_name",
            "model_version",
            "page_version",
            name=op.f("uq_predictions_document_id_model_name_model_version_page_version"),
        ),
    )
    op.create_index(op.f("ix_predictions_document_id"), "predictions", ["document_id"], unique=False)
    op.create_index("ix_predictions_model_name_label", "predictions", ["model_name", "label"], unique=False)
    op.create_table(
        "retrain_schedules",
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("dataset_id", sa.BigInteger(), nullable=False),
        sa.Column("cron", sa.String(length=120), nullable=False),
        sa.Column("margin", sa.Float(), server_default="0.01", nullable=False),
        _jsonb("params"),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_retrain_schedules_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_name", name=op.f("pk_retrain_schedules")),
    )
    op.create_index(
        op.f("ix_retrain_schedules_dataset_id"), "retrain_schedules", ["dataset_id"], unique=False
    )
    op.create_table(
        "retrain_decisions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("snapshot_id", sa.String(length=64), nullable=False),
        sa.Column("challenger_version", sa.Integer(), nullable=False),
        sa.Column("champion_version", sa.Integer(), nullable=True),
        sa.Column("challenger_score", sa.Float(), nullable=False),
        sa.Column("champion_score", sa.Float(), nullable=True),
        sa.Column("margin", sa.Float(), nullable=False),
        sa.Column("promoted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_decisions")),
    )
    op.create_index(
        op.f("ix_retrain_decisions_model_name"), "retrain_decisions", ["model_name"], unique=False
    )
    op.create_table(
        "pipeline_ml_stages",
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        _created(),
        sa.CheckConstraint("stage IN ('train', 'predict')", name=op.f("ck_pipeline_ml_stages_stage")),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_pipeline_ml_stages_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "stage", "target", name=op.f("pk_pipeline_ml_stages")),
    )


def downgrade() -> None:
    for table in (
        "pipeline_ml_stages",
        "retrain_decisions",
        "retrain_schedules",
        "predictions",
        "training_runs",
        "snapshot_documents",
        "dataset_snapshots",
        "dataset_labels",
        "datasets",
    ):
        op.drop_table(table)
