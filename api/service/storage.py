"""Page files on local disk, content-addressed: ``blobs/ab/cd/<sha256>``. The same bytes are stored once.

A file is written under a temporary name, made durable (``fsync``) and only then renamed to its hash, so a crash
never leaves a half-written blob under a name that says it is whole. An upload of many files stages them all,
then makes them durable together (:meth:`BlobStore.commit`: the ``fsync`` calls run side by side, so the disk
commits them in a few journal writes rather than one after the other).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Sequence

__all__ = ["BlobStore", "Staged"]

#: fsync calls made side by side when an upload's files are committed.
_SYNC_THREADS = 8


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class Staged:
    """Bytes written under a temporary name, not yet durable nor under their hash (see :meth:`BlobStore.commit`)."""

    temporary: Path
    sha256: str
    size: int


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
        staged = self.stage(stream, limit, chunk)
        if staged is None:
            return None
        self.commit([staged])
        return staged.sha256, staged.size

    def stage(self, stream: IO[bytes], limit: int, chunk: int = 1 << 20) -> Staged | None:
        """Write what ``stream`` holds to a temporary file, hashing it in chunks; None, and nothing kept, when it
        holds more than ``limit`` bytes. :meth:`commit` (or :meth:`discard`) must follow."""
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
            return Staged(Path(tmp), digest.hexdigest(), size)
        except _TooLarge:
            Path(tmp).unlink(missing_ok=True)
            return None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def commit(self, staged: Sequence[Staged]) -> None:
        """Make staged files durable (their fsync calls side by side) and give each its name; bytes already
        stored are not written twice. On failure nothing staged is left behind."""
        try:
            if len(staged) > 1:
                with ThreadPoolExecutor(min(_SYNC_THREADS, len(staged)), thread_name_prefix="blob-sync") as pool:
                    list(pool.map(_fsync, [item.temporary for item in staged]))
            elif staged:
                _fsync(staged[0].temporary)
            for item in staged:
                target = self.path(item.sha256)
                if target.exists():
                    item.temporary.unlink()
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(item.temporary, target)
        except BaseException:
            self.discard(staged)
            raise

    def discard(self, staged: Sequence[Staged]) -> None:
        """Remove staged files that were not committed."""
        for item in staged:
            item.temporary.unlink(missing_ok=True)

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
