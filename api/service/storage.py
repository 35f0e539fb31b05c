"""Page files on local disk, content-addressed: ``blobs/ab/cd/<sha256>``. The same bytes are stored once."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import IO

__all__ = ["BlobStore"]


class _TooLarge(Exception):
    pass


class BlobStore:
    """Write-once files named by the SHA-256 of their content."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` (atomically: a crash never leaves a half-written blob); return its SHA-256."""
        return self.put_stream(io.BytesIO(data), limit=len(data))[0]

    def put_stream(self, stream: IO[bytes], limit: int, chunk: int = 1 << 20) -> tuple[str, int] | None:
        """Store what ``stream`` holds, hashing it as it is copied in chunks (memory stays at one chunk,
        whatever the file's size); None, and nothing stored, when it holds more than ``limit`` bytes.
        Returns (SHA-256, size)."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                while block := stream.read(chunk):
                    size += len(block)
                    if size > limit:
                        raise _TooLarge
                    digest.update(block)
                    handle.write(block)
                handle.flush()
                os.fsync(handle.fileno())
            sha = digest.hexdigest()
            target = self.path(sha)
            if target.exists():
                Path(tmp).unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
            return sha, size
        except _TooLarge:
            Path(tmp).unlink(missing_ok=True)
            return None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()
