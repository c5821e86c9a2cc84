#!/usr/bin/env python3
"""Decodes a TensorBoard event file without TensorFlow or the protobuf module.

An independent check of stepvideo's TensorBoardWriter: its own CRC-32C, its
own TFRecord framing and protobuf wire-format parsing, nothing shared with the
C++ side. Prints one JSON object per event:

  {"wall_time": W, "step": S, "file_version": "brain.Event:2"}
  {"wall_time": W, "step": S, "scalars": {"tag": value}}

Exit status 1, with a message naming the record's byte offset, on a CRC
mismatch or a malformed record. A scalar that is NaN or infinite is printed as
Python's json writes it (NaN, Infinity), which json.loads reads back.

  read_tfevents.py FILE
  read_tfevents.py --selftest
"""

import argparse
import json
import struct
import sys

CASTAGNOLI_REFLECTED = 0x82F63B78


def _crc_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ CASTAGNOLI_REFLECTED if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    rotated = ((crc >> 15) | (crc << 17)) & 0xFFFFFFFF
    return (rotated + 0xA282EAD8) & 0xFFFFFFFF


class Malformed(Exception):
    pass


# Protobuf wire types.
VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


def read_varint(buf, pos):
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(buf):
            raise Malformed("varint runs past the end of its message")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            if result >> 64:
                raise Malformed("varint longer than 64 bits")
            return result, pos
    raise Malformed("varint longer than 10 bytes")


def fields(buf):
    """Yields (field number, wire type, value) for each field of a message:
    an int for varints, bytes for the fixed and length-delimited types."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise Malformed("field number 0")
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            if pos + size > len(buf):
                raise Malformed(f"field {number}: fixed-size value runs past the end")
            value, pos = buf[pos:pos + size], pos + size
        elif wire == LENGTH_DELIMITED:
            size, pos = read_varint(buf, pos)
            if pos + size > len(buf):
                raise Malformed(f"field {number}: length {size} runs past the end")
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise Malformed(f"field {number}: unsupported wire type {wire}")
        yield number, wire, value


def expect(number, wire, want, what):
    if wire != want:
        raise Malformed(f"{what} (field {number}) has wire type {wire}, expected {want}")


def utf8(raw, what):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Malformed(f"{what} is not UTF-8: {e}") from None


def decode_summary(buf):
    scalars = {}
    for number, wire, value in fields(buf):
        if number != 1:  # Summary.value
            continue
        expect(number, wire, LENGTH_DELIMITED, "Summary.value")
        tag, simple = None, None
        for vn, vw, vv in fields(value):
            if vn == 1:
                expect(vn, vw, LENGTH_DELIMITED, "Value.tag")
                tag = utf8(vv, "Value.tag")
            elif vn == 2:
                expect(vn, vw, FIXED32, "Value.simple_value")
                simple = struct.unpack("<f", vv)[0]
        if simple is None:
            raise Malformed(f"summary value {tag!r} has no simple_value")
        scalars[tag if tag is not None else ""] = simple
    return scalars


def decode_event(buf):
    event = {"wall_time": 0.0, "step": 0}
    for number, wire, value in fields(buf):
        if number == 1:
            expect(number, wire, FIXED64, "Event.wall_time")
            event["wall_time"] = struct.unpack("<d", value)[0]
        elif number == 2:
            expect(number, wire, VARINT, "Event.step")
            event["step"] = value - (1 << 64) if value >> 63 else value  # int64, two's complement
        elif number == 3:
            expect(number, wire, LENGTH_DELIMITED, "Event.file_version")
            event.pop("scalars", None)  # members of one oneof: the last one wins
            event["file_version"] = utf8(value, "Event.file_version")
        elif number == 5:
            expect(number, wire, LENGTH_DELIMITED, "Event.summary")
            event.pop("file_version", None)
            event["scalars"] = decode_summary(value)
    return event


def records(data):
    """Yields (offset, payload) per TFRecord, checking both CRCs."""
    pos = 0
    while pos < len(data):
        offset = pos
        if pos + 12 > len(data):
            raise Malformed(f"record at offset {offset}: truncated header ({len(data) - pos} bytes)")
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if masked(crc32c(header)) != length_crc:
            raise Malformed(f"record at offset {offset}: length CRC mismatch "
                            f"(stored {length_crc:#010x}, computed {masked(crc32c(header)):#010x})")
        pos += 12
        if pos + length + 4 > len(data):
            raise Malformed(f"record at offset {offset}: length {length} runs past the end of the file")
        payload = data[pos:pos + length]
        (data_crc,) = struct.unpack("<I", data[pos + length:pos + length + 4])
        if masked(crc32c(payload)) != data_crc:
            raise Malformed(f"record at offset {offset}: data CRC mismatch "
                            f"(stored {data_crc:#010x}, computed {masked(crc32c(payload)):#010x})")
        pos += length + 4
        yield offset, payload


def selftest():
    # The CRC-32C check value (RFC 3720 and the CRC catalogue), plus the
    # empty string and 32 zero bytes from RFC 3720's test vectors.
    cases = [(b"123456789", 0xE3069283), (b"", 0x00000000), (bytes(32), 0x8A9136AA)]
    ok = True
    for data, want in cases:
        got = crc32c(data)
        if got != want:
            print(f"selftest: crc32c({data[:12]!r}) = {got:#010x}, expected {want:#010x}", file=sys.stderr)
            ok = False
    if ok:
        print("selftest: crc32c ok")
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="events.out.tfevents.* file")
    parser.add_argument("--selftest", action="store_true", help="check the CRC-32C implementation and exit")
    args = parser.parse_args()
    if args.selftest:
        return selftest()
    if not args.file:
        parser.error("an events file is required (or --selftest)")
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"read_tfevents: {args.file}: {e.strerror}", file=sys.stderr)
        return 1
    offset = 0
    try:
        for offset, payload in records(data):
            print(json.dumps(decode_event(payload)))
    except Malformed as e:
        message = str(e)
        if not message.startswith("record at offset"):
            message = f"record at offset {offset}: malformed event: {message}"
        print(f"read_tfevents: {args.file}: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
