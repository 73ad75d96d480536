"""ObjectStore on S3 or MinIO (production), with boto3's managed, multipart transfers.

The SHA-256 of each object is stored as user metadata (`x-amz-meta-sha256`) and checked while reading.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from harvest.errors import HarvestError, NotFoundError, StoreUnavailableError
from harvest.storage.object_store import (
    CHUNK_SIZE,
    ChecksumReader,
    ObjectInfo,
    ObjectStore,
    Payload,
    check_key,
    check_prefix,
    spool_with_digest,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MULTIPART_THRESHOLD = 8 * 1024 * 1024
_CREDENTIAL_ERRORS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken"}
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3ObjectStore(ObjectStore):
    backend = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                connect_timeout=timeout_s,
                read_timeout=max(timeout_s, 60.0),
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": "path"},
            ),
        )
        self.transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD
        )

    def _full(self, key: str) -> str:
        return self.prefix + check_key(key)

    def check_bucket(self) -> None:
        """Fail early, with a readable message, when the endpoint, credentials or bucket are wrong."""
        with self._errors():
            self.client.head_bucket(Bucket=self.bucket)

    def put(self, key: str, payload: Payload, *, content_type: str | None = None) -> ObjectInfo:
        full = self._full(key)
        source, digest, size = spool_with_digest(payload)
        extra: dict[str, Any] = {"Metadata": {"sha256": digest}}
        if content_type:
            extra["ContentType"] = content_type
        try:
            with self._errors(key):
                self.client.upload_fileobj(source, self.bucket, full, ExtraArgs=extra, Config=self.transfer)
        finally:
            if source is not payload:
                source.close()
        return ObjectInfo(key=key, size=size, sha256=digest)

    def open(self, key: str) -> IO[bytes]:
        with self._errors(key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._full(key))
        expected = response.get("Metadata", {}).get("sha256")
        return io.BufferedReader(ChecksumReader(response["Body"], expected, key), CHUNK_SIZE)

    def info(self, key: str) -> ObjectInfo:
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._full(key))
        return ObjectInfo(
            key=key,
            size=int(head["ContentLength"]),
            sha256=head.get("Metadata", {}).get("sha256"),
            modified=head.get("LastModified"),
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors():
            pages = list(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix))
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                # Listing does not return user metadata; ask for it per object so checksums are shown.
                yield self.info(key)

    def delete(self, key: str) -> bool:
        if not self.exists(key):
            return False
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))
        return True

    def exists(self, key: str) -> bool:
        try:
            self.info(key)
        except NotFoundError:
            return False
        return True

    def _errors(self, key: str | None = None) -> _S3Errors:
        return _S3Errors(self, key)


class _S3Errors:
    """Maps botocore failures to Harvest errors that name the setting to fix."""

    def __init__(self, store: S3ObjectStore, key: str | None) -> None:
        self.store = store
        self.key = key

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, HarvestError):
            return
        where = f"s3://{self.store.bucket}/{self.store.prefix}"
        endpoint = self.store.endpoint_url or "AWS S3"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                if self.key is None:
                    raise StoreUnavailableError(
                        f"bucket {self.store.bucket!r} does not exist at {endpoint}; create it or fix "
                        "HARVEST_OBJECT_STORE_URL"
                    ) from exc
                raise NotFoundError(f"no object {self.key!r} in {where}") from exc
            if code == "NoSuchBucket":
                raise StoreUnavailableError(
                    f"bucket {self.store.bucket!r} does not exist at {endpoint}; create it or fix "
                    "HARVEST_OBJECT_STORE_URL"
                ) from exc
            if code in _CREDENTIAL_ERRORS or code == "403":
                raise StoreUnavailableError(
                    f"S3 at {endpoint} refused the credentials (HARVEST_S3_ACCESS_KEY_ID / "
                    f"HARVEST_S3_SECRET_ACCESS_KEY): {code}"
                ) from exc
            raise StoreUnavailableError(f"S3 request to {where} failed: {code or exc}") from exc
        if isinstance(exc, EndpointConnectionError):
            raise StoreUnavailableError(
                f"cannot reach the S3 endpoint {endpoint} (HARVEST_S3_ENDPOINT_URL)"
            ) from exc
        if isinstance(exc, NoCredentialsError):
            raise StoreUnavailableError(
                "no S3 credentials: set HARVEST_S3_ACCESS_KEY_ID and HARVEST_S3_SECRET_ACCESS_KEY"
            ) from exc
        if isinstance(exc, BotoCoreError):
            raise StoreUnavailableError(f"S3 at {endpoint} failed: {exc}") from exc
