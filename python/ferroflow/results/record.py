"""The on-disk record format of ferroflow results: a 32-byte header, then the payload.

Every record the built-in ``fsspec`` store writes is framed so that a truncated,
bit-flipped or foreign file is detected when it is read, rather than handed to a
deserializer (which could turn garbage into a wrong value, or worse)::

    offset  size  field
    0       4     magic: b"FFRS" (ferroflow result store)
    4       1     format version: 1
    5       1     checksum algorithm: 1 = BLAKE2b with a 16-byte digest
    6       2     reserved: zero
    8       8     payload length in bytes, unsigned little-endian
    16      16    BLAKE2b-128 digest of the payload
    32      n     payload: the serializer's bytes, unchanged

Every byte of the header is checked on read (magic, version, algorithm, reserved
bytes, length against the record's actual size, digest against the payload), so any
single-byte change anywhere is detected. The payload is whatever the serializer
produced (a cloudpickle stream, UTF-8 JSON); the store does not know which.

Third-party stores may reuse :func:`encode_header` and :func:`decode` to write the
same format.
"""

from __future__ import annotations

import hashlib
import struct

__all__ = [
    "MAGIC",
    "VERSION",
    "HEADER_SIZE",
    "RecordError",
    "encode_header",
    "encode",
    "decode",
    "check_header",
    "check_payload",
]

#: The first four bytes of every record.
MAGIC = b"FFRS"
#: The format version written by this code.
VERSION = 1
#: Checksum algorithm 1: BLAKE2b, 16-byte digest, of the payload.
CHECKSUM_BLAKE2B_128 = 1
#: Size of the header preceding the payload.
HEADER_SIZE = 32

_HEADER = struct.Struct("<4sBBHQ16s")
assert _HEADER.size == HEADER_SIZE

Buffer = bytes | bytearray | memoryview


class RecordError(ValueError):
    """A record failed a check; the message says which (the store adds the URL)."""


def _digest(payload: Buffer) -> bytes:
    return hashlib.blake2b(payload, digest_size=16).digest()


def encode_header(payload: Buffer) -> bytes:
    """The 32-byte header for ``payload`` (write it, then the payload itself)."""
    return _HEADER.pack(MAGIC, VERSION, CHECKSUM_BLAKE2B_128, 0, memoryview(payload).nbytes,
                        _digest(payload))


def encode(payload: Buffer) -> bytes:
    """Header and payload in one ``bytes`` (copies the payload)."""
    return encode_header(payload) + bytes(payload)


def check_header(header: Buffer, total_size: int) -> tuple[int, bytes]:
    """Check a record's header against the record's total size in bytes.

    Returns:
        ``(payload_length, digest)``.

    Raises:
        RecordError: The header is short, not a ferroflow record, of an unknown
            version or algorithm, or announces a length other than the record's.
    """
    if len(header) < HEADER_SIZE:
        raise RecordError(f"truncated: {total_size} bytes, shorter than the "
                          f"{HEADER_SIZE}-byte header")
    magic, version, algorithm, reserved, length, digest = _HEADER.unpack_from(header)
    if magic != MAGIC:
        raise RecordError(f"not a ferroflow result record (starts with {bytes(magic)!r}, "
                          f"expected {MAGIC!r})")
    if version != VERSION:
        raise RecordError(f"unknown record format version {version} (this ferroflow reads "
                          f"version {VERSION})")
    if algorithm != CHECKSUM_BLAKE2B_128 or reserved != 0:
        raise RecordError(f"damaged header (checksum algorithm {algorithm}, reserved "
                          f"{reserved})")
    expected = HEADER_SIZE + length
    if total_size < expected:
        raise RecordError(f"truncated: the header announces {length} payload bytes, the "
                          f"record has {total_size - HEADER_SIZE}")
    if total_size > expected:
        raise RecordError(f"{total_size - expected} unexpected bytes after the "
                          f"{length}-byte payload")
    return length, digest


def check_payload(payload: Buffer, digest: bytes) -> None:
    """Raise :class:`RecordError` unless ``payload`` has ``digest``."""
    if _digest(payload) != digest:
        raise RecordError("checksum mismatch: the payload was altered after it was written")


def decode(record: Buffer) -> bytes:
    """Check a whole record and return its payload.

    Raises:
        RecordError: The record fails a check (see :func:`check_header`), or its
            payload does not match the checksum.
    """
    view = memoryview(record)
    _, digest = check_header(view[:HEADER_SIZE], view.nbytes)
    payload = view[HEADER_SIZE:]
    check_payload(payload, digest)
    return payload.tobytes()
