"""ObjectStore on S3 or MinIO (production), with boto3's managed, multipart transfers.

The SHA-256 of each object is stored as user metadata (`x-amz-meta-sha256`) and checked while reading.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
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
    ObjectWriter,
    Payload,
    check_key,
    check_prefix,
    spool_with_digest,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

MULTIPART_THRESHOLD = 8 * 1024 * 1024
# Streaming writes: parts start at 8 MiB and double every 1,000 parts (S3 allows 10,000 per upload),
# up to 512 MiB, so one object can reach ~2.5 TB; at most this many parts are in flight at once.
MAX_PART_SIZE = 512 * 1024 * 1024
PARTS_IN_FLIGHT = 4
# Objects written by streaming learn their checksum only at the end, after S3 fixed their metadata: it is
# kept in a small sidecar object under this (unlistable) prefix instead.
_SIDECAR_PREFIX = ".meta/"
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

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _full(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _sidecar(self, key: str) -> str:
        return self.prefix + _SIDECAR_PREFIX + check_key(key) + ".json"

    def _checksum(self, key: str, metadata: dict[str, str], size: int) -> str | None:
        """The object's SHA-256: its metadata, else the sidecar a streaming writer left (if it matches)."""
        if metadata.get("sha256"):
            return metadata["sha256"]
        try:
            with self._errors(key):
                body = self.client.get_object(Bucket=self.bucket, Key=self._sidecar(key))["Body"].read()
            meta = json.loads(body)
        except (NotFoundError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("size") != size:
            return None
        digest = meta.get("sha256")
        return digest if isinstance(digest, str) else None

    def writer(self, key: str, *, content_type: str | None = None) -> ObjectWriter:
        return _S3Writer(self, key, content_type)

    def cleanup_incomplete(self, prefix: str = "", older_than_s: float = 86_400.0) -> int:
        check_prefix(prefix)
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        paginator = self.client.get_paginator("list_multipart_uploads")
        removed = 0
        with self._errors():
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < cutoff:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        removed += 1
        return removed

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
        expected = self._checksum(key, response.get("Metadata", {}), int(response["ContentLength"]))
        return io.BufferedReader(ChecksumReader(response["Body"], expected, key), CHUNK_SIZE)

    def info(self, key: str) -> ObjectInfo:
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._full(key))
        size = int(head["ContentLength"])
        return ObjectInfo(
            key=key,
            size=size,
            sha256=self._checksum(key, head.get("Metadata", {}), size),
            modified=head.get("LastModified"),
        )

    def list(self, prefix: str = "", *, checksums: bool = True) -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors():
            pages = list(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix))
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                if any(part.startswith(".") for part in key.split("/")):
                    continue  # sidecars (and nothing a key may name)
                if not checksums:
                    yield ObjectInfo(
                        key=key, size=int(item["Size"]), sha256=None, modified=item["LastModified"]
                    )
                    continue
                # Listing does not return user metadata; ask for it per object so checksums are shown.
                yield self.info(key)

    def delete(self, key: str) -> bool:
        if not self.exists(key):
            return False
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))
            self.client.delete_object(Bucket=self.bucket, Key=self._sidecar(key))
        return True

    def exists(self, key: str) -> bool:
        try:
            self.info(key)
        except NotFoundError:
            return False
        return True

    def _errors(self, key: str | None = None) -> _S3Errors:
        return _S3Errors(self, key)


class _S3Writer(ObjectWriter):
    """A multipart upload fed as bytes arrive: full parts are uploaded by a few threads while the producer
    goes on; a write that fits in one part becomes a single PUT."""

    def __init__(self, store: S3ObjectStore, key: str, content_type: str | None) -> None:
        super().__init__(key)
        self.store = store
        self.full = store._full(key)
        self.content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._parts: list[Future[CompletedPartTypeDef]] = []
        self._slots = threading.Semaphore(PARTS_IN_FLIGHT)

    def _part_size(self) -> int:
        return int(min(MULTIPART_THRESHOLD * 2 ** (len(self._parts) // 1000), MAX_PART_SIZE))

    def _write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= self._part_size():
            size = self._part_size()
            part = bytes(self._buffer[:size])
            del self._buffer[:size]
            self._send(part)

    def _send(self, part: bytes) -> None:
        client, bucket = self.store.client, self.store.bucket
        if self._upload_id is None:
            extra: dict[str, Any] = {"ContentType": self.content_type} if self.content_type else {}
            with self.store._errors(self.key):
                created = client.create_multipart_upload(Bucket=bucket, Key=self.full, **extra)
            self._upload_id = created["UploadId"]
            self._pool = ThreadPoolExecutor(PARTS_IN_FLIGHT, thread_name_prefix="s3-part")
        for done in self._parts:
            if done.done() and done.exception() is not None:
                done.result()  # a failed part fails the write now, not at commit
        self._slots.acquire()
        assert self._pool is not None
        future = self._pool.submit(self._upload_part, len(self._parts) + 1, part)
        future.add_done_callback(lambda _: self._slots.release())
        self._parts.append(future)

    def _upload_part(self, number: int, part: bytes) -> CompletedPartTypeDef:
        assert self._upload_id is not None
        with self.store._errors(self.key):
            response = self.store.client.upload_part(
                Bucket=self.store.bucket,
                Key=self.full,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=part,
            )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _commit(self, sha256: str) -> ObjectInfo:
        client, bucket = self.store.client, self.store.bucket
        if self._upload_id is None:
            extra: dict[str, Any] = {"Metadata": {"sha256": sha256}}
            if self.content_type:
                extra["ContentType"] = self.content_type
            with self.store._errors(self.key):
                client.put_object(Bucket=bucket, Key=self.full, Body=bytes(self._buffer), **extra)
            return ObjectInfo(key=self.key, size=self.size, sha256=sha256)
        if self._buffer:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        parts = [future.result() for future in self._parts]
        sidecar = json.dumps({"sha256": sha256, "size": self.size}).encode()
        with self.store._errors(self.key):
            # the sidecar first: once the upload completes, the object is never without its checksum
            client.put_object(Bucket=bucket, Key=self.store._sidecar(self.key), Body=sidecar)
            client.complete_multipart_upload(
                Bucket=bucket, Key=self.full, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
            )
        self._shutdown()
        return ObjectInfo(key=self.key, size=self.size, sha256=sha256)

    def _abort(self) -> None:
        self._buffer.clear()
        self._shutdown()
        if self._upload_id is not None:
            # if this fails too, `cleanup_incomplete` (harvest backup prune) removes the upload later
            with contextlib.suppress(BotoCoreError, ClientError):
                self.store.client.abort_multipart_upload(
                    Bucket=self.store.bucket, Key=self.full, UploadId=self._upload_id
                )

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


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
