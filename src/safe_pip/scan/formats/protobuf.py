"""A minimal protobuf wire-format reader shared by the ONNX and TensorFlow readers.

Pulling in ``onnx`` or ``tensorflow`` to read a model would mean importing large
native libraries just to list node types, and their parsers are the loaders we
want to double-check.  The wire format is tiny: (field number, wire type) keys
followed by a varint, a fixed 32/64-bit value or a length-delimited payload.
Only the fields a reader asks for are decoded; nested messages are further
:class:`Message` views over the same buffer (no copies).

Every read is bounds-checked and raises :class:`ProtoError` on damage, which the
readers turn into a finding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safe_pip.scan.core.blob import Blob

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5


class ProtoError(Exception):
    """The bytes are not well-formed protobuf wire format."""


@dataclass(frozen=True)
class Field:
    number: int
    wire: int
    value: int
    """The varint/fixed value, or for LEN fields the payload offset."""
    length: int = 0
    """Payload length of a LEN field."""


_CHUNK = 1 << 16


class Message:
    """Fields of one message in ``blob[start:end]``."""

    __slots__ = ("blob", "end", "start")

    def __init__(self, blob: Blob, start: int = 0, end: int | None = None) -> None:
        self.blob = blob
        self.start = start
        self.end = blob.size if end is None else end

    def _varint(self, pos: int) -> tuple[int, int]:
        raw = self.blob.read(pos, 10)
        result = shift = 0
        for i, b in enumerate(raw):
            if pos + i >= self.end:
                break
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result, pos + i + 1
            shift += 7
        raise ProtoError(f"truncated or overlong varint at offset {pos}")

    def fields(self) -> Iterator[Field]:
        """Every field in order; group wire types (deprecated) are rejected."""
        pos = self.start
        while pos < self.end:
            key, pos = self._varint(pos)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise ProtoError(f"field number 0 at offset {pos}")
            if wire == VARINT:
                value, pos = self._varint(pos)
                yield Field(number, wire, value)
            elif wire in (I64, I32):
                n = 8 if wire == I64 else 4
                if pos + n > self.end:
                    raise ProtoError(f"truncated fixed field at offset {pos}")
                yield Field(number, wire, int.from_bytes(self.blob.read(pos, n), "little"))
                pos += n
            elif wire == LEN:
                length, pos = self._varint(pos)
                if pos + length > self.end:
                    raise ProtoError(f"field {number} runs past its message at offset {pos}")
                yield Field(number, wire, pos, length)
                pos += length
            else:
                raise ProtoError(f"unsupported wire type {wire} at offset {pos}")

    def sub(self, f: Field) -> Message:
        if f.wire != LEN:
            raise ProtoError(f"field {f.number} is not a message")
        return Message(self.blob, f.value, f.value + f.length)

    def text(self, f: Field, limit: int = 1 << 20) -> str:
        """A string field, decoded leniently (names are reported, not trusted)."""
        if f.wire != LEN:
            raise ProtoError(f"field {f.number} is not a string")
        return self.blob.read(f.value, min(f.length, limit)).decode("utf-8", "replace")


def well_formed(blob: Blob, allowed: dict[int, int], required: set[int]) -> bool:
    """True when the top level parses and uses only ``allowed`` {field: wire} pairs.

    Used to sniff magic-less protobuf formats (ONNX) without false positives on
    arbitrary data: random bytes almost never parse to end with only known fields.
    """
    seen: set[int] = set()
    try:
        for n, f in enumerate(Message(blob).fields()):
            if allowed.get(f.number) != f.wire:
                return False
            seen.add(f.number)
            if n > 100_000:
                return False
    except ProtoError:
        return False
    return required <= seen
