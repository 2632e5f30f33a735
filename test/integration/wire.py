"""Minimal decoders for the wire formats telegate sends, in Python stdlib only.

- protobuf wire format: varint, 64-bit, length-delimited and 32-bit fields (no schema; callers
  pick fields by number);
- snappy block format (what Loki's push API and Prometheus remote write use), decompression only;
- small readers for the messages the integration tests check: OTLP Export*ServiceRequest
  (traces, metrics, logs) and Loki's logproto.PushRequest.
"""
import struct


class DecodeError(ValueError):
    pass


def read_varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise DecodeError("varint too long")


def parse(buf):
    """Returns the message's fields as a list of (field_number, wire_type, value) in wire order.
    value is an int for varint (0), fixed64 (1) and fixed32 (5), bytes for length-delimited (2)."""
    buf = bytes(buf)
    out = []
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise DecodeError("field number 0")
        if wt == 0:
            v, pos = read_varint(buf, pos)
        elif wt == 1:
            if pos + 8 > len(buf):
                raise DecodeError("truncated fixed64")
            v = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wt == 2:
            n, pos = read_varint(buf, pos)
            if pos + n > len(buf):
                raise DecodeError("truncated length-delimited field")
            v = buf[pos:pos + n]
            pos += n
        elif wt == 5:
            if pos + 4 > len(buf):
                raise DecodeError("truncated fixed32")
            v = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise DecodeError(f"unsupported wire type {wt}")
        out.append((num, wt, v))
    return out


def fields(buf, num):
    """Values of every occurrence of field `num` (repeated fields keep their order)."""
    return [v for n, _, v in parse(buf) if n == num]


def field(buf, num, default=None):
    """The last occurrence of field `num` (protobuf's rule for singular fields)."""
    vs = fields(buf, num)
    return vs[-1] if vs else default


def as_double(u64):
    return struct.unpack("<d", struct.pack("<Q", u64))[0]


def as_sint64(u64):
    return struct.unpack("<q", struct.pack("<Q", u64))[0]


def snappy_decompress(buf):
    """Snappy block format (not the framing format)."""
    buf = bytes(buf)
    n, pos = read_varint(buf, 0)
    out = bytearray()
    while pos < len(buf):
        tag = buf[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            ln = tag >> 2
            if ln >= 60:
                extra = ln - 59
                ln = int.from_bytes(buf[pos:pos + extra], "little")
                pos += extra
            ln += 1
            if pos + ln > len(buf):
                raise DecodeError("truncated literal")
            out += buf[pos:pos + ln]
            pos += ln
            continue
        if kind == 1:
            ln = 4 + ((tag >> 2) & 7)
            off = ((tag >> 5) << 8) | buf[pos]
            pos += 1
        elif kind == 2:
            ln = (tag >> 2) + 1
            off = int.from_bytes(buf[pos:pos + 2], "little")
            pos += 2
        else:
            ln = (tag >> 2) + 1
            off = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        if off == 0 or off > len(out):
            raise DecodeError("bad copy offset")
        start = len(out) - off
        for i in range(ln):  # may overlap its own output
            out.append(out[start + i])
    if len(out) != n:
        raise DecodeError(f"decompressed {len(out)} bytes, header says {n}")
    return bytes(out)


# ---- OTLP -------------------------------------------------------------------------------------

def _any_value(buf):
    for num, wt, v in parse(buf):
        if num == 1:
            return v.decode()
        if num == 2:
            return bool(v)
        if num == 3:
            return as_sint64(v)
        if num == 4:
            return as_double(v)
    return None


def _attributes(kvs):
    return {field(kv, 1, b"").decode(): _any_value(field(kv, 2, b"")) for kv in kvs}


def _resource_attrs(resource_entry):
    res = field(resource_entry, 1, b"")
    return _attributes(fields(res, 1))


def otlp_spans(request):
    """ExportTraceServiceRequest -> [{"service", "name", "trace_id", "span_id"}]."""
    out = []
    for rs in fields(request, 1):
        attrs = _resource_attrs(rs)
        for ss in fields(rs, 2):
            for span in fields(ss, 2):
                out.append({"service": attrs.get("service.name"),
                            "trace_id": field(span, 1, b"").hex(),
                            "span_id": field(span, 2, b"").hex(),
                            "name": field(span, 5, b"").decode()})
    return out


def otlp_metric_points(request):
    """ExportMetricsServiceRequest -> {metric name: [number data point values]} for gauges and
    sums, and {name: [count]} for histograms."""
    out = {}
    for rm in fields(request, 1):
        for sm in fields(rm, 2):
            for metric in fields(sm, 2):
                name = field(metric, 1, b"").decode()
                pts = out.setdefault(name, [])
                for data_num in (5, 7):  # gauge, sum
                    for data in fields(metric, data_num):
                        for dp in fields(data, 1):
                            for num, wt, v in parse(dp):
                                if num == 4:
                                    pts.append(as_double(v))
                                elif num == 6:
                                    pts.append(as_sint64(v))
                for data in fields(metric, 9):  # histogram
                    for dp in fields(data, 1):
                        pts.append(field(dp, 4, 0))
    return out


def otlp_log_bodies(request):
    out = []
    for rl in fields(request, 1):
        for sl in fields(rl, 2):
            for rec in fields(sl, 2):
                out.append(_any_value(field(rec, 5, b"")))
    return out


# ---- Loki ------------------------------------------------------------------------------------

def loki_push(request):
    """logproto.PushRequest -> [(labels string, [(ts_ns, line)])]."""
    streams = []
    for st in fields(request, 1):
        labels = field(st, 1, b"").decode()
        entries = []
        for e in fields(st, 2):
            ts = field(e, 1, b"")
            ns = field(ts, 1, 0) * 1_000_000_000 + field(ts, 2, 0)
            entries.append((ns, field(e, 2, b"").decode()))
        streams.append((labels, entries))
    return streams
