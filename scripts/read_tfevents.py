#!/usr/bin/env python3
"""Decode TensorBoard event files and print them as JSON, with nothing but the Python 3 standard library.

An independent check on gradscope's TypeScript writer and reader (src/io/tfevents.ts): it shares no code
with them, computing CRC-32C and walking the protobuf wire format on its own.

Usage:
    python3 scripts/read_tfevents.py PATH [PATH ...]

Each PATH is an event file or a directory (whose files with 'tfevents' in the name are read, in name
order). Output, on stdout:

    {"files": [{"path": ..., "events": [...], "errors": [...]}]}

An event is {"offset", "wall_time", "step", "file_version" (header only), "values": [...]}; a value is
    {"kind": "scalar", "tag", "value"}
    {"kind": "histogram", "tag", "min", "max", "num", "sum", "sum_squares", "bucket_limit", "bucket"}
    {"kind": "other", "tag", "plugin"}
An error is {"offset", "message"}. JSON has no NaN or infinities, so non-finite numbers are printed as the
strings "NaN", "Infinity" and "-Infinity".

Exit status: 0 when every record decoded, 1 when any error was reported, 2 on bad usage.
"""

import json
import math
import os
import struct
import sys


# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, bitwise table construction.
def _make_crc_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _make_crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class DecodeError(Exception):
    pass


def read_varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint too long")


def fields(buf):
    """Yield (field_number, wire_type, value) for one message; value is an int or bytes."""
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 1:
            if pos + 8 > end:
                raise DecodeError("truncated fixed64")
            value = bytes(buf[pos:pos + 8])
            pos += 8
        elif wire == 2:
            size, pos = read_varint(buf, pos)
            if pos + size > end:
                raise DecodeError("truncated length-delimited field")
            value = bytes(buf[pos:pos + size])
            pos += size
        elif wire == 5:
            if pos + 4 > end:
                raise DecodeError("truncated fixed32")
            value = bytes(buf[pos:pos + 4])
            pos += 4
        else:
            raise DecodeError("unsupported wire type %d" % wire)
        yield number, wire, value


def as_int64(u):
    return u - (1 << 64) if u >= (1 << 63) else u


def f64(raw):
    return struct.unpack("<d", raw)[0]


def f32(raw):
    return struct.unpack("<f", raw)[0]


def repeated_doubles(wire, value, out):
    if wire == 2:
        out.extend(struct.unpack("<%dd" % (len(value) // 8), value))
    elif wire == 1:
        out.append(f64(value))


def repeated_floats(wire, value, out):
    if wire == 2:
        out.extend(struct.unpack("<%df" % (len(value) // 4), value))
    elif wire == 5:
        out.append(f32(value))


def decode_histogram(buf):
    h = {"min": 0.0, "max": 0.0, "num": 0.0, "sum": 0.0, "sum_squares": 0.0, "bucket_limit": [], "bucket": []}
    names = {1: "min", 2: "max", 3: "num", 4: "sum", 5: "sum_squares"}
    for number, wire, value in fields(buf):
        if number in names and wire == 1:
            h[names[number]] = f64(value)
        elif number == 6:
            repeated_doubles(wire, value, h["bucket_limit"])
        elif number == 7:
            repeated_doubles(wire, value, h["bucket"])
    return h


def decode_plugin_name(buf):
    for number, wire, value in fields(buf):
        if number == 1 and wire == 2:
            for n2, w2, v2 in fields(value):
                if n2 == 1 and w2 == 2:
                    return v2.decode("utf-8")
    return None


DT_FLOAT, DT_DOUBLE = 1, 2


def decode_tensor_numbers(buf):
    """Float32/float64 tensors only: float_val, double_val, or tensor_content."""
    dtype = 0
    content = b""
    listed = []
    for number, wire, value in fields(buf):
        if number == 1 and wire == 0:
            dtype = value
        elif number == 4 and wire == 2:
            content = value
        elif number == 5:
            repeated_floats(wire, value, listed)
        elif number == 6:
            repeated_doubles(wire, value, listed)
    if dtype == DT_FLOAT and content:
        return list(struct.unpack("<%df" % (len(content) // 4), content))
    if dtype == DT_DOUBLE and content:
        return list(struct.unpack("<%dd" % (len(content) // 8), content))
    if dtype in (DT_FLOAT, DT_DOUBLE):
        return listed
    raise DecodeError("unsupported tensor dtype %d" % dtype)


def decode_value(buf, plugins):
    tag = ""
    plugin = None
    simple = None
    histo = None
    tensor = None
    for number, wire, value in fields(buf):
        if number == 1 and wire == 2:
            tag = value.decode("utf-8")
        elif number == 2 and wire == 5:
            simple = f32(value)
        elif number == 5 and wire == 2:
            histo = decode_histogram(value)
        elif number == 8 and wire == 2:
            tensor = value
        elif number == 9 and wire == 2:
            plugin = decode_plugin_name(value)
    if plugin:
        plugins[tag] = plugin
    else:
        plugin = plugins.get(tag)
    if simple is not None:
        return {"kind": "scalar", "tag": tag, "value": simple}
    if histo is not None:
        histo.update({"kind": "histogram", "tag": tag})
        return histo
    if tensor is not None and plugin == "scalars":
        numbers = decode_tensor_numbers(tensor)
        if len(numbers) != 1:
            raise DecodeError("scalar tensor with %d elements" % len(numbers))
        return {"kind": "scalar", "tag": tag, "value": numbers[0]}
    return {"kind": "other", "tag": tag, "plugin": plugin}


def decode_event(buf, offset, plugins):
    event = {"offset": offset, "wall_time": 0.0, "step": 0, "values": []}
    for number, wire, value in fields(buf):
        if number == 1 and wire == 1:
            event["wall_time"] = f64(value)
        elif number == 2 and wire == 0:
            event["step"] = as_int64(value)
        elif number == 3 and wire == 2:
            event["file_version"] = value.decode("utf-8")
        elif number == 5 and wire == 2:
            for n2, w2, v2 in fields(value):
                if n2 == 1 and w2 == 2:
                    event["values"].append(decode_value(v2, plugins))
    return event


def read_file(path):
    with open(path, "rb") as f:
        data = f.read()
    events, errors, plugins = [], [], {}
    pos = 0
    while pos < len(data):
        header = data[pos:pos + 12]
        if len(header) < 12:
            errors.append({"offset": pos, "message": "truncated record header"})
            break
        (length,) = struct.unpack("<Q", header[:8])
        (length_crc,) = struct.unpack("<I", header[8:12])
        if masked_crc32c(header[:8]) != length_crc:
            errors.append({"offset": pos, "message": "length crc mismatch"})
            break
        body = data[pos + 12:pos + 12 + length + 4]
        if len(body) < length + 4:
            errors.append({"offset": pos, "message": "truncated record"})
            break
        payload = body[:length]
        (data_crc,) = struct.unpack("<I", body[length:])
        if masked_crc32c(payload) != data_crc:
            errors.append({"offset": pos, "message": "data crc mismatch"})
        else:
            try:
                events.append(decode_event(payload, pos, plugins))
            except (DecodeError, UnicodeDecodeError, struct.error) as e:
                errors.append({"offset": pos, "message": "malformed event: %s" % e})
        pos += 12 + length + 4
    return {"path": path, "events": events, "errors": errors}


def jsonable(x):
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [jsonable(v) for v in x]
    return x


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    paths = []
    for arg in argv[1:]:
        if os.path.isdir(arg):
            paths.extend(os.path.join(arg, n) for n in sorted(os.listdir(arg))
                         if "tfevents" in n and os.path.isfile(os.path.join(arg, n)))
        else:
            paths.append(arg)
    files = [read_file(p) for p in paths]
    json.dump(jsonable({"files": files}), sys.stdout, allow_nan=False)
    sys.stdout.write("\n")
    return 1 if any(f["errors"] for f in files) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
