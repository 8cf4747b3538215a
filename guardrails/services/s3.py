"""The S3 seam: release a pinned object version with its SHA-256, read a checksum or bytes back."""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from guardrails.release.record import S3Location
from guardrails.services.errors import error_code

_CHUNK_BYTES = 1024 * 1024
_IN_MEMORY_BYTES = 8 * 1024 * 1024  # larger objects spill to the function's /tmp


@dataclass(frozen=True, kw_only=True)
class ObjectVersion:
    """The current version of an object."""

    location: S3Location
    version_id: str  # "null" in a bucket that was never versioned
    last_modified: datetime
    size: int


class S3Seam:
    """The release's S3 calls, over a boto3 `s3` client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def current_version(self, location: S3Location) -> ObjectVersion | None:
        """HeadObject: the object's current version, or None when there is no such object."""
        try:
            response = self._client.head_object(Bucket=location.bucket, Key=location.key)
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectVersion(
            location=location,
            version_id=response.get("VersionId") or "null",
            last_modified=response["LastModified"],
            size=int(response["ContentLength"]),
        )

    def copy_with_sha256(self, source: ObjectVersion, destination: S3Location) -> str:
        """Copy exactly `source`'s version to `destination`; the SHA-256 (base64) of its bytes.

        The bytes are hashed as they are read and S3 checks them against that digest on upload
        (the checksum header also satisfies Object Lock's integrity requirement), so the digest
        recorded is that of what was evaluated and what is stored.
        """
        request: dict[str, Any] = {"Bucket": source.location.bucket, "Key": source.location.key}
        if source.version_id != "null":
            request["VersionId"] = source.version_id
        body = self._client.get_object(**request)["Body"]
        digest = hashlib.sha256()
        with tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY_BYTES) as spool:
            for chunk in iter(lambda: body.read(_CHUNK_BYTES), b""):
                digest.update(chunk)
                spool.write(chunk)
            spool.seek(0)
            checksum = base64.b64encode(digest.digest()).decode()
            response = self._client.put_object(
                Bucket=destination.bucket,
                Key=destination.key,
                Body=spool,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
            )
        stored = response.get("ChecksumSHA256")
        if stored != checksum:
            raise RuntimeError(
                f"S3 stored {destination.uri} with SHA-256 {stored}, not the {checksum} of what "
                "was read"
            )
        return checksum

    def chunks(self, location: S3Location) -> Iterator[bytes]:
        """The object's current bytes, a chunk at a time (callers hash what they read)."""
        body = self._client.get_object(Bucket=location.bucket, Key=location.key)["Body"]
        yield from iter(lambda: body.read(_CHUNK_BYTES), b"")

    def sha256(self, location: S3Location) -> str | None:
        """The SHA-256 S3 holds for the object's current version; None when missing or none."""
        try:
            response = self._client.head_object(
                Bucket=location.bucket, Key=location.key, ChecksumMode="ENABLED"
            )
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        checksum = response.get("ChecksumSHA256")
        return checksum if isinstance(checksum, str) else None
