"""Tar shards of a synthetic clone (the WebDataset layout): a sample is a `<key>.png` member and a `<key>.json`
member (its manifest row), written by `generation.writer` and read here by byte range.

A clone stored as shards holds `shards/shard-NNNNNN.tar` files beside its `manifest.jsonl`. Each manifest row names
its image's shard (relative to the clone's folder), the offset of the PNG's bytes in it and their length, so one image
is one positional read: no index to build, no archive to scan. The shards are plain tar files (`tar tf`, Python's
`tarfile` and the `webdataset` library read them as they are). Member headers carry no time, owner or mode of the
machine that wrote them, so a shard's bytes follow from its images alone: a resumed generation writes the bytes an
uninterrupted one writes.
"""

from __future__ import annotations

import os
import tarfile
from collections import OrderedDict
from typing import NamedTuple

from ..core.errors import FakeitError

BLOCK = tarfile.BLOCKSIZE  # 512: tar members start on block boundaries
RECORD = tarfile.RECORDSIZE  # 10,240: a finished archive is a whole number of records, as tar and tarfile write it


class Member(NamedTuple):
    """One image inside a tar shard: the shard's path, where the image's bytes start, how many there are."""

    shard: str  # path of the tar file
    offset: int  # byte offset of the member's data
    length: int  # bytes of data
    name: str  # the image's path inside the clone (`<class folder>/<file>.png`)

    def __str__(self) -> str:
        return f"{self.shard}:{self.name}"


def padded(size: int) -> int:
    """`size` rounded up to whole tar blocks."""
    return -(-size // BLOCK) * BLOCK


def member_header(name: str, size: int) -> bytes:
    """The tar header of a regular file member, the same on every machine (no time, owner or mode of the writer)."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = size, 0, 0o644, 0, 0, "", ""
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")


def sample_bytes(key: str, image: bytes, meta: bytes) -> tuple[bytes, int]:
    """(the tar bytes of one sample, `<key>.png` then `<key>.json`; the offset of the image's bytes within them)."""
    head = member_header(f"{key}.png", len(image))
    tail = member_header(f"{key}.json", len(meta))
    data = b"".join([head, image, bytes(padded(len(image)) - len(image)), tail, meta, bytes(padded(len(meta)) - len(meta))])
    return data, len(head)


def sample_end(key: str, offset: int, length: int, meta: bytes) -> int:
    """Where the sample whose image bytes start at `offset` ends in its shard (after its `.json` member)."""
    return offset + padded(length) + len(member_header(f"{key}.json", len(meta))) + padded(len(meta))


def end_of_archive(size: int) -> bytes:
    """The bytes that end an archive whose members end at `size`: two zero blocks, then zeros to a whole record."""
    total = -(-(size + 2 * BLOCK) // RECORD) * RECORD
    return bytes(total - size)


def list_members(path: str | os.PathLike) -> list[Member]:
    """The regular-file members of a tar shard, in archive order (read with tarfile: any tar, not only ours)."""
    try:
        with tarfile.open(path, "r:") as tar:
            return [Member(str(path), m.offset_data, m.size, m.name) for m in tar if m.isfile()]
    except (OSError, tarfile.TarError) as e:
        raise FakeitError(f"tar shard {path} cannot be read: {e}") from None


_OPEN: OrderedDict[str, int] = OrderedDict()  # shard path -> file descriptor, least recently used first
_MAX_OPEN: list[int] = []


def _max_open() -> int:
    """How many shards a process keeps open: half its file limit (raised to the hard limit first), at most 4,096."""
    if not _MAX_OPEN:
        try:
            import resource

            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            if hard == resource.RLIM_INFINITY or hard > soft:
                wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
                resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
                soft = max(soft, wanted)
        except (ImportError, ValueError, OSError):
            soft = 1024
        _MAX_OPEN.append(max(8, min(4096, soft // 2)))
    return _MAX_OPEN[0]


def read_member(member: Member) -> bytes:
    """The bytes of one member, by a positional read (safe in forked DataLoader workers sharing a descriptor);
    shards stay open between reads, the least recently used closed beyond `_max_open()`."""
    fd = _OPEN.get(member.shard)
    if fd is None:
        fd = os.open(member.shard, os.O_RDONLY)
        _OPEN[member.shard] = fd
        while len(_OPEN) > _max_open():
            os.close(_OPEN.popitem(last=False)[1])
    else:
        _OPEN.move_to_end(member.shard)
    data = os.pread(fd, member.length, member.offset)
    if len(data) != member.length:
        raise OSError(f"{member}: {len(data)} of {member.length} bytes at offset {member.offset}")
    return data
