"""The stored bytes of an archive file: how they are opened (`Opener`, `open_local`), read
(`Readable`, in blocks of `BLOCK_BYTES`, fed to a decompressor in pieces of at most
`FEED_BYTES`) and hashed on the way (`HashingReader`, `content_sha256`), whatever the storage.
"""

import errno
import hashlib
import os
import stat
from collections.abc import Callable
from typing import BinaryIO, Protocol

from transforms.source.discover import ArchiveFile

BLOCK_BYTES = 4 << 20
# what a decompressor is fed at a time: a zlib call that fails returns nothing and is replayed
# byte by byte, so its input is kept short
FEED_BYTES = 64 << 10


class Readable(Protocol):
    """What stored bytes are read from: a file opened by an `Opener`, or a `HashingReader`."""

    def read(self, size: int = -1, /) -> bytes: ...


Opener = Callable[[ArchiveFile], BinaryIO]
"""Opens an archive file's stored bytes for reading (closed by its caller)."""


def open_local(file: ArchiveFile) -> BinaryIO:
    """A listed file opened for reading, if it is still a regular file: a file swapped for a
    link since the listing is not followed, nor a FIFO waited on for ever."""
    descriptor = os.open(file.uri, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "no longer a regular file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


class HashingReader:
    """A stored file read through, hashing its bytes on the way: the manifest's content hash
    costs no second read (SHA-256 runs at over 1 GB/s, the parsing at tens of MB/s)."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None] | None = None) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self._on_read = on_read

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        self._hash.update(data)
        if self._on_read is not None:
            self._on_read(len(data))
        return data

    def sha256_of_all(self) -> str:
        """The hash of the whole file, reading what the decompressor left (after damage)."""
        while self.read(BLOCK_BYTES):
            pass
        return self._hash.hexdigest()


def content_sha256(opener: Opener, file: ArchiveFile) -> str:
    """SHA-256 of a file's stored bytes, as the manifest keeps it."""
    with opener(file) as raw:
        return HashingReader(raw).sha256_of_all()
