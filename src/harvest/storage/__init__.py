"""Stores of raw pages (RawStore) and objects (ObjectStore), each chosen by a URL setting."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from harvest.settings import Settings
from harvest.storage.object_store import ObjectInfo, ObjectStore
from harvest.storage.raw_store import RawPageIn, RawPageVersion, RawStore, UpsertResult

__all__ = [
    "ObjectInfo",
    "ObjectStore",
    "RawPageIn",
    "RawPageVersion",
    "RawStore",
    "UpsertResult",
    "open_object_store",
    "open_raw_store",
]


def open_raw_store(settings: Settings) -> RawStore:
    """The RawStore the settings name: MongoDB for `mongodb://…`, else PostgreSQL's raw_pages table."""
    url = settings.raw_store_url
    if url is not None and url.startswith("mongodb"):
        from harvest.storage.raw_mongo import MongoRawStore

        store: RawStore = MongoRawStore(url, timeout_s=settings.connect_timeout_s)
    else:
        from harvest.db.engine import get_engine
        from harvest.storage.raw_postgres import PostgresRawStore

        store = PostgresRawStore(get_engine(settings))
    store.ensure_indexes()
    return store


def open_object_store(settings: Settings, url: str | None = None) -> ObjectStore:
    """The ObjectStore the settings name (or `url`, with the settings' S3 credentials): S3 for
    `s3://bucket/prefix`, else a local directory."""
    url = url or settings.object_store_url
    if url is None:
        from harvest.storage.objects_local import LocalObjectStore

        return LocalObjectStore(settings.objects_dir)
    parts = urlsplit(url)
    if parts.scheme == "s3":
        from harvest.storage.objects_s3 import S3ObjectStore

        secret = settings.s3_secret_access_key
        return S3ObjectStore(
            parts.netloc,
            parts.path,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            timeout_s=settings.connect_timeout_s,
        )
    from harvest.storage.objects_local import LocalObjectStore

    return LocalObjectStore(Path(unquote(parts.path)) if parts.scheme == "file" else Path(url))
