#!/usr/bin/env python3
"""Hostile-workload memory harness (issue 12, "Done when").

For each workload of issue 12 this starts a FRESH server (Ferrite, then redis-server 7 where
Redis has an equivalent), runs the workload against 127.0.0.1, samples the server's VmRSS /
VmSize from /proc/PID/status every ~20 ms (peak kept; VmHWM read at the end), checks that the
server still answers PING, records whether it died, and stops it. Prints a markdown table and
writes it to --out.

    python3 bench/hostile.py --out docs/bench/hostile-before.md
    FERRITE_BIN=target/release/ferrite REDIS_BIN=redis-server python3 bench/hostile.py --only 1,5

Python 3.11 standard library only. Every workload is bounded in time (~10-20 s). Safety: a
server whose RSS passes --rss-cap-mib (default 3072) is SIGKILLed by the harness and reported
as such (workload 1 otherwise grows to tens of GB and would take the machine down).

Ferrite runs as `ferrite serve --bind 127.0.0.1 --resp-port P --grpc-port P --http-port P
--admin-port P --maxmemory 64mb --auth token --token-key KEYFILE` (plus --tls-self-signed for
workload 9); redis-server as `redis-server --port P --maxmemory 64mb --save '' --appendonly no`
(plus --requirepass for workload 2, the unauthenticated one). Redis keeps its default
maxmemory-policy (noeviction); Ferrite its default (allkeys-lru).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
LONG_MAX_NEG = "-9223372036854775807"
REDIS_PASS = "hostile-harness-pass"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def mib(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / 1024:.0f}"


def ms(sec: float) -> str:
    return f"{sec * 1000:.0f} ms" if sec < 10 else f"{sec:.1f} s"


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


# ---------------------------------------------------------------- RESP client


def resp_enc(*args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


class RespError(Exception):
    pass


class Resp:
    """A minimal RESP2 client: send commands, read replies (errors come back as RespError values)."""

    def __init__(self, port, tls=False, timeout=10.0):
        s = socket.create_connection((HOST, port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            s = insecure_ctx().wrap_socket(s)
        self.sock = s
        self.buf = bytearray()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, *args):
        self.sock.sendall(resp_enc(*args))

    def _fill(self):
        d = self.sock.recv(1 << 20)
        if not d:
            raise ConnectionError("connection closed by server")
        self.buf += d

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            self._fill()

    def _exact(self, n) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        d = bytes(self.buf[:n])
        del self.buf[: n + 2]
        return d

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+",):
            return rest.decode(errors="replace")
        if t == b"-":
            return RespError(rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ConnectionError(f"unexpected reply line {line[:80]!r}")

    def call(self, *args):
        self.send(*args)
        return self.read()


def insecure_ctx(alpn=None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def short(x, n=90) -> str:
    if isinstance(x, RespError):
        x = f"-{x}"
    s = repr(x) if not isinstance(x, str) else x
    s = s.replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= n else s[:n] + "..."


# ---------------------------------------------------------------- servers


def read_status(pid) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:", "VmSize:", "VmPeak:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


class Sampler(threading.Thread):
    def __init__(self, proc, cap_kib):
        super().__init__(daemon=True)
        self.proc = proc
        self.cap_kib = cap_kib
        self.peak_rss = 0
        self.peak_vmsize = 0
        self.hwm = 0
        self.vmpeak = 0
        self.cur_rss = 0
        self.capped = False
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            st = read_status(self.proc.pid)
            if not st:
                break
            self.cur_rss = st.get("VmRSS", 0)
            self.peak_rss = max(self.peak_rss, self.cur_rss)
            self.peak_vmsize = max(self.peak_vmsize, st.get("VmSize", 0))
            self.hwm = max(self.hwm, st.get("VmHWM", 0))
            self.vmpeak = max(self.vmpeak, st.get("VmPeak", 0))
            if self.cur_rss > self.cap_kib and not self.capped:
                self.capped = True
                log(f"    !! RSS {self.cur_rss // 1024} MiB passed the cap: SIGKILL")
                try:
                    self.proc.kill()
                except OSError:
                    pass
            time.sleep(0.02)

    def stop(self):
        self._halt.set()


def _limits():
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    except (ValueError, OSError):
        pass
    os.setsid()


class Server:
    def __init__(self, kind, h: "Harness", tls=False, requirepass=None):
        self.kind = kind
        self.h = h
        self.tls = tls
        self.requirepass = requirepass
        self.dir = tempfile.mkdtemp(prefix=f"hostile-{kind}-")
        self.resp_port = free_port()
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.admin_port = free_port()
        self.proc = None
        self.sampler = None

    # the super-user credential for RESP on this server
    def auth_args(self):
        if self.kind == "ferrite":
            return ("AUTH", self.h.super_token)
        if self.requirepass:
            return ("AUTH", self.requirepass)
        return None

    def client(self, timeout=10.0, auth=True, cache=None) -> Resp:
        c = Resp(self.resp_port, tls=self.tls, timeout=timeout)
        if auth:
            a = self.auth_args()
            if a and cache and self.kind == "ferrite":
                a = ("AUTH", cache, self.h.super_token)
            if a:
                r = c.call(*a)
                if isinstance(r, RespError):
                    raise RuntimeError(f"AUTH failed: {r}")
        return c

    def start(self):
        logf = open(os.path.join(self.dir, "server.log"), "wb")
        if self.kind == "ferrite":
            cmd = [
                self.h.ferrite_bin, "serve", "--bind", HOST,
                "--resp-port", str(self.resp_port), "--grpc-port", str(self.grpc_port),
                "--http-port", str(self.http_port), "--admin-port", str(self.admin_port),
                "--maxmemory", "64mb", "--auth", "token", "--token-key", self.h.key_file,
            ]
            if self.tls:
                cmd.append("--tls-self-signed")
            # The server refuses unknown FERRITE_* variables; the harness's own is not config.
            env = {k: v for k, v in os.environ.items() if k != "FERRITE_BIN"}
            env["RUST_LOG"] = os.environ.get("RUST_LOG", "warn")
        else:
            cmd = [
                self.h.redis_bin, "--bind", HOST, "--port", str(self.resp_port),
                "--maxmemory", "64mb", "--save", "", "--appendonly", "no",
                "--dir", self.dir, "--maxclients", "10000",
            ]
            if self.requirepass:
                cmd += ["--requirepass", self.requirepass]
            env = dict(os.environ)
        self.proc = subprocess.Popen(
            cmd, cwd=self.dir, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_limits, env=env,
        )
        logf.close()
        ports = [self.resp_port]
        if self.kind == "ferrite":
            ports += [self.grpc_port, self.http_port]
        deadline = time.time() + 60
        for p in ports:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.kind} exited at start: {self.log_tail()}")
                try:
                    socket.create_connection((HOST, p), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        raise RuntimeError(f"{self.kind} did not listen on {p}")
                    time.sleep(0.05)
        self.sampler = Sampler(self.proc, self.h.cap_kib)
        self.sampler.start()
        time.sleep(0.2)
        self.base_rss = self.sampler.cur_rss

    def log_tail(self, n=2000) -> str:
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                data = f.read()[-n:]
            return data.decode(errors="replace")
        except OSError:
            return ""

    def died_reason(self) -> str:
        rc = self.proc.returncode
        what = f"signal {-rc} ({signal.Signals(-rc).name})" if rc < 0 else f"exit {rc}"
        interesting = [
            l.strip() for l in self.log_tail(20000).splitlines()
            if any(w in l for w in ("memory allocation", "panicked", "abort", "out of memory", "OOM", "fatal"))
        ]
        if interesting:
            what += ": " + short(interesting[-1], 100)
        return what

    def ping(self) -> str | None:
        """None if PING is answered with PONG, else what happened."""
        try:
            c = self.client(timeout=3)
            r = c.call("PING")
            c.close()
            return None if r == "PONG" else f"PING answered {short(r, 60)}"
        except Exception as e:  # noqa: BLE001
            return f"PING failed: {short(repr(e), 60)}"

    def finish(self) -> dict:
        res = {}
        alive_before = self.proc.poll() is None
        ping_problem = self.ping() if alive_before else "not running"
        st = read_status(self.proc.pid) if self.proc.poll() is None else {}
        self.sampler.stop()
        self.sampler.join(1)
        peak = max(self.sampler.peak_rss, self.sampler.hwm, st.get("VmHWM", 0))
        res["peak_rss_kib"] = peak
        res["peak_vmsize_kib"] = max(self.sampler.peak_vmsize, st.get("VmPeak", 0), self.sampler.vmpeak)
        res["base_rss_kib"] = self.base_rss
        if self.sampler.capped:
            res["alive"] = f"**killed by harness** (RSS > {self.h.cap_kib // 1024} MiB cap)"
        elif not alive_before or self.proc.poll() is not None:
            self.proc.wait()
            res["alive"] = f"**died** ({self.died_reason()})"
        elif ping_problem:
            res["alive"] = f"**no PONG** ({ping_problem})"
        else:
            res["alive"] = "yes"
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.h.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return res


# ---------------------------------------------------------------- helpers for workloads


class Pinger(threading.Thread):
    """A second client that PINGs every `interval` s and records each PING's latency."""

    def __init__(self, srv: Server, interval=0.1):
        super().__init__(daemon=True)
        self.srv = srv
        self.interval = interval
        self.lat = []
        self.unanswered = 0.0  # how long the last PING has been waiting (when never answered)
        self.errors = []
        self._halt = threading.Event()

    def run(self):
        try:
            c = self.srv.client(timeout=5)
            c.sock.settimeout(0.2)
        except Exception as e:  # noqa: BLE001
            self.errors.append(repr(e))
            return
        while not self._halt.is_set():
            t0 = time.perf_counter()
            try:
                c.send("PING")
                while True:
                    try:
                        c.read()
                        break
                    except (socket.timeout, TimeoutError):
                        self.unanswered = time.perf_counter() - t0
                        if self._halt.is_set():
                            return
            except Exception as e:  # noqa: BLE001
                self.errors.append(short(repr(e), 50))
                return
            self.lat.append(time.perf_counter() - t0)
            self.unanswered = 0.0
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(2)

    def summary(self) -> str:
        worst = max(self.lat + [self.unanswered]) if (self.lat or self.unanswered) else 0
        s = f"PING every {self.interval * 1000:.0f} ms on another connection: {len(self.lat)} answered, max {ms(worst)}"
        if self.unanswered:
            s += f" (last one unanswered after {ms(self.unanswered)})"
        if len(self.lat) > 20:
            s += f", p99 {ms(pct(self.lat, 99))}"
        if self.errors:
            s += f", error {self.errors[0]}"
        return s


def drain_reply(sock, limit=200) -> str:
    """Whatever the server sent (non-blocking), or how the connection ended."""
    try:
        sock.settimeout(0.3)
        d = sock.recv(4096)
        if not d:
            return "closed"
        return short(d[:limit].decode(errors="replace").strip(), 80)
    except (socket.timeout, TimeoutError):
        return "open, nothing sent"
    except OSError as e:
        return f"{type(e).__name__}"


def tally(items) -> str:
    counts = {}
    for x in items:
        counts[x] = counts.get(x, 0) + 1
    return ", ".join(f"{n}x {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


# ---------------------------------------------------------------- workloads

RAND_VARIANTS = {
    "1a": (("SADD", "k", "a", "b", "c"), ("SRANDMEMBER", "k", LONG_MAX_NEG)),
    "1b": (("HSET", "k", "a", "1", "b", "2", "c", "3"), ("HRANDFIELD", "k", LONG_MAX_NEG, "WITHVALUES")),
    "1c": (("ZADD", "k", "1", "a", "2", "b", "3", "c"), ("ZRANDMEMBER", "k", LONG_MAX_NEG)),
}


def w1(srv: Server, variant: str) -> str:
    setup, cmd = RAND_VARIANTS[variant]
    c = srv.client()
    c.call(*setup)
    pinger = Pinger(srv, 0.1)
    pinger.start()
    time.sleep(0.5)
    c.sock.settimeout(0.25)
    t0 = time.perf_counter()
    c.send(*cmd)
    got, first, outcome = 0, b"", None
    while True:
        el = time.perf_counter() - t0
        if el > 15:
            outcome = "no complete reply within 15 s"
            break
        if srv.proc.poll() is not None:
            outcome = f"server gone after {el:.1f} s"
            break
        try:
            d = c.sock.recv(1 << 20)
        except (socket.timeout, TimeoutError):
            continue
        except OSError as e:
            outcome = f"{type(e).__name__} after {el:.1f} s"
            break
        if not d:
            outcome = f"connection closed after {el:.1f} s"
            break
        if not first:
            first = d[:100]
            if first.startswith(b"-"):
                outcome = f"error after {ms(el)}: {short(first.decode(errors='replace').strip(), 70)}"
                break
        got += len(d)
    time.sleep(0.5)
    pinger.stop()
    c.close()
    notes = f"`{' '.join(cmd)}`: {outcome}"
    if got:
        notes += f"; {got / 1048576:.1f} MiB of reply received"
    return notes + "; " + pinger.summary()


def w2(srv: Server) -> str:
    """Unauthenticated RESP: huge declared multibulk/bulk lengths, then many tiny args."""
    notes = []
    big = []
    for _ in range(5):
        s = socket.create_connection((HOST, srv.resp_port), timeout=5)
        try:
            s.sendall(b"*1000000\r\n$500000000\r\n")
        except OSError:
            pass
        big.append(s)
    chunk = b"a" * 2048
    sent = [0] * 5
    for _ in range(10):  # 10 x 2 KiB per connection, 100 KiB in all, over ~1 s
        for i, s in enumerate(big):
            try:
                s.sendall(chunk)
                sent[i] += len(chunk)
            except OSError:
                pass
        time.sleep(0.1)
    time.sleep(0.3)
    rss_a, vms_a = srv.sampler.peak_rss, srv.sampler.peak_vmsize
    notes.append(
        f"5 conns `*1000000`+`$500000000`+{sum(sent) // 1024} KiB dribbled: peak RSS {mib(rss_a)} MiB, "
        f"VmSize {mib(vms_a)} MiB, server said: {tally(drain_reply(s) for s in big)}"
    )

    many_results = [None] * 3

    def many(i):
        try:
            s = socket.create_connection((HOST, srv.resp_port), timeout=5)
        except OSError as e:
            many_results[i] = (0, repr(e), None)
            return
        sent_args = 0
        deadline = time.time() + 8
        try:
            s.sendall(b"*1000000\r\n")
            batch = b"$1\r\na\r\n" * 10000
            while sent_args < 1000000 and time.time() < deadline:
                s.sendall(batch)
                sent_args += 10000
        except OSError as e:
            many_results[i] = (sent_args, type(e).__name__, s)
            return
        many_results[i] = (sent_args, "sent", s)

    ts = [threading.Thread(target=many, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(12)
    time.sleep(1.0)
    outs = []
    for r in many_results:
        if r is None:
            outs.append("stuck")
            continue
        n, how, s = r
        outs.append(f"{n // 1000}k args {how}, then {drain_reply(s) if s else '-'}")
    notes.append(
        f"+3 conns `*1000000` + up to 1M `$1 a`: {'; '.join(outs)}; "
        f"RSS now {mib(srv.sampler.cur_rss)} MiB"
    )
    for s in big:
        s.close()
    for r in many_results:
        if r and r[2]:
            r[2].close()
    return ". ".join(notes)


def w3(srv: Server) -> str:
    """100 concurrent unauthenticated 5 MB PUTs."""
    body = memoryview(b"v" * 5_000_000)
    results = [None] * 100
    barrier = threading.Barrier(100, timeout=20)

    def put(i):
        hdr = (
            f"PUT /cache/app?key=k{i}&ttl_seconds=60 HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n"
        )
        if i % 2:
            hdr += "Authorization: not-a-valid-token\r\n"
        hdr += "\r\n"
        s = None
        sent = 0
        try:
            s = socket.create_connection((HOST, srv.http_port), timeout=15)
            barrier.wait()
            s.sendall(hdr.encode())
            for off in range(0, len(body), 262144):
                s.sendall(body[off : off + 262144])
                sent = off + 262144
            sent = len(body)
        except (OSError, threading.BrokenBarrierError) as e:
            err = type(e).__name__
        else:
            err = None
        status = "no response"
        try:
            if s:
                s.settimeout(10)
                d = s.recv(200)
                if d:
                    status = d.split(b"\r\n", 1)[0].decode(errors="replace")
        except OSError:
            pass
        results[i] = (status, sent, err, s)

    ts = [threading.Thread(target=put, args=(i,)) for i in range(100)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    el = time.time() - t0
    done = [r for r in results if r]
    full = sum(1 for r in done if r[1] >= len(body))
    errs = tally(r[2] for r in done if r[2])
    for r in done:
        if r[3]:
            r[3].close()
    return (
        f"100 PUTs of 5 MB (50 without token, 50 with an invalid one) in {el:.1f} s: "
        f"{tally(r[0] for r in done)}; {full} bodies sent in full"
        + (f"; send errors: {errs}" if errs else "")
    )


# --- workload 4: a minimal HTTP/2 (h2c) client in the standard library

H2_DATA, H2_HEADERS, H2_RST, H2_SETTINGS, H2_PING, H2_GOAWAY, H2_WINUP = 0, 1, 3, 4, 6, 7, 8


def hpack_int(v, prefix_bits=7, first=0):
    lim = (1 << prefix_bits) - 1
    if v < lim:
        return bytes([first | v])
    out = [first | lim]
    v -= lim
    while v >= 128:
        out.append((v & 127) | 128)
        v >>= 7
    out.append(v)
    return bytes(out)


def hpack_literal(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return b"\x00" + hpack_int(len(n)) + n + hpack_int(len(v)) + v  # literal, not indexed, no Huffman


def h2_frame(ftype, flags, stream, payload=b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def w4(srv: Server) -> str:
    """40 HTTP/2 streams each sending a 15 MiB gRPC Set on one connection, no valid authorization."""
    nstreams, msg_len = 40, 15 * 1048576
    body = b"v" * (msg_len - 32)
    proto = b"\x0a\x01k" + b"\x12" + _varint(len(body)) + body + b"\x18" + _varint(60000)
    grpc_msg = memoryview(b"\x00" + struct.pack(">I", len(proto)) + proto)
    total = len(grpc_msg)
    s = socket.create_connection((HOST, srv.grpc_port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    wlock = threading.Lock()
    cond = threading.Condition()
    st = {"conn_win": 65535, "init_win": 65535, "max_frame": 16384, "goaway": None}
    win = {}
    sent = {}
    ended = {}  # stream -> (how, bytes sent when it ended)

    def send(b):
        with wlock:
            s.sendall(b)

    send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    send(h2_frame(H2_SETTINGS, 0, 0, struct.pack(">HI", 2, 0) + struct.pack(">HI", 4, 16 << 20)))
    send(h2_frame(H2_WINUP, 0, 0, struct.pack(">I", 1 << 30)))

    def reader():
        buf = bytearray()
        s.settimeout(0.5)
        while True:
            try:
                d = s.recv(65536)
            except (socket.timeout, TimeoutError):
                if st.get("stop"):
                    return
                continue
            except OSError as e:
                with cond:
                    st["goaway"] = st["goaway"] or f"conn {type(e).__name__}"
                    cond.notify_all()
                return
            if not d:
                with cond:
                    st["goaway"] = st["goaway"] or "conn closed"
                    cond.notify_all()
                return
            buf += d
            while len(buf) >= 9:
                ln = int.from_bytes(buf[0:3], "big")
                if len(buf) < 9 + ln:
                    break
                ftype, flags = buf[3], buf[4]
                sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                pl = bytes(buf[9 : 9 + ln])
                del buf[: 9 + ln]
                with cond:
                    if ftype == H2_SETTINGS and not flags & 1:
                        for off in range(0, len(pl), 6):
                            k, v = struct.unpack(">HI", pl[off : off + 6])
                            if k == 4:
                                delta = v - st["init_win"]
                                st["init_win"] = v
                                for x in win:
                                    win[x] += delta
                            elif k == 5:
                                st["max_frame"] = v
                        send(h2_frame(H2_SETTINGS, 1, 0))
                    elif ftype == H2_WINUP:
                        inc = struct.unpack(">I", pl[:4])[0] & 0x7FFFFFFF
                        if sid == 0:
                            st["conn_win"] += inc
                        elif sid in win:
                            win[sid] += inc
                    elif ftype == H2_PING and not flags & 1:
                        send(h2_frame(H2_PING, 1, 0, pl))
                    elif ftype == H2_RST and sid in sent:
                        ended.setdefault(sid, ("RST_STREAM", sent[sid]))
                    elif ftype in (H2_HEADERS, H2_DATA) and flags & 1 and sid in sent:
                        ended.setdefault(sid, ("answered", sent[sid]))
                    elif ftype == H2_GOAWAY:
                        st["goaway"] = "GOAWAY"
                    cond.notify_all()

    rt = threading.Thread(target=reader, daemon=True)
    rt.start()
    time.sleep(0.2)
    sids = [1 + 2 * i for i in range(nstreams)]
    for i, sid in enumerate(sids):
        hb = b"".join(
            hpack_literal(k, v)
            for k, v in [
                (":method", "POST"), (":scheme", "http"), (":path", "/cache_client.Scs/Set"),
                (":authority", f"{HOST}:{srv.grpc_port}"), ("content-type", "application/grpc"),
                ("te", "trailers"), ("cache", "app"),
            ]
            + ([("authorization", "not-a-valid-token")] if i % 2 else [])
        )
        with cond:
            win[sid] = st["init_win"]
            sent[sid] = 0
        send(h2_frame(H2_HEADERS, 0x4, sid, hb))
    t0 = time.time()
    deadline = t0 + 15
    rr = 0
    while time.time() < deadline:
        with cond:
            if st["goaway"]:
                break
            todo = [x for x in sids if sent[x] < total and x not in ended]
            if not todo:
                break
            ready = [x for x in todo if win[x] > 0]
            if st["conn_win"] <= 0 or not ready:
                cond.wait(0.5)
                continue
            sid = ready[rr % len(ready)]
            rr += 1
            n = min(st["max_frame"], st["conn_win"], win[sid], total - sent[sid], 65536)
            off = sent[sid]
            st["conn_win"] -= n
            win[sid] -= n
            sent[sid] += n
            last = sent[sid] >= total
        send(h2_frame(H2_DATA, 1 if last else 0, sid, bytes(grpc_msg[off : off + n])))
    el = time.time() - t0
    # give the server a moment to answer what it has
    end = time.time() + 2
    while time.time() < end and len(ended) < nstreams and not st["goaway"]:
        time.sleep(0.1)
    st["stop"] = True
    full = sum(1 for x in sids if sent[x] >= total)
    total_sent = sum(sent.values())
    outcome = tally(ended[x][0] for x in ended) or "no stream answered"
    early = [ended[x][1] for x in ended if ended[x][1] < total]
    s.close()
    rt.join(1)
    notes = (
        f"{nstreams} streams x 15 MiB `Scs/Set` (half without `authorization`, half invalid): "
        f"{total_sent / 1048576:.0f} MiB accepted by flow control in {el:.1f} s, {full} messages sent in full; "
        f"streams: {outcome}"
    )
    if early:
        notes += f" ({len(early)} ended before the whole message was sent, median at {statistics.median(early) / 1048576:.1f} MiB)"
    if st["goaway"]:
        notes += f"; connection: {st['goaway']}"
    return notes


def _varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def w5(srv: Server) -> str:
    """A publish-only token publishing ~1 MiB messages to 300 topics."""
    if srv.kind == "ferrite":
        c = Resp(srv.resp_port, timeout=15)
        r = c.call("AUTH", srv.h.publish_token)
        if isinstance(r, RespError):
            return f"AUTH with the publish-only token failed: {r}"
    else:
        c = srv.client(timeout=15)
    msg = b"m" * (1048576 - 1024)
    rounds, ntopics = 5, 300
    deadline = time.time() + 15
    n = 0
    errors = []
    t0 = time.time()
    try:
        for _ in range(rounds):
            for t in range(ntopics):
                if time.time() > deadline:
                    break
                c.send("PUBLISH", f"topic:{t}", msg)
                n += 1
                r = c.read()
                if isinstance(r, RespError):
                    errors.append(str(r)[:60])
    except Exception as e:  # noqa: BLE001
        errors.append(f"{type(e).__name__}: {short(str(e), 50)}")
    el = time.time() - t0
    peak_during = srv.sampler.peak_rss
    time.sleep(2)
    held = srv.sampler.cur_rss
    c.close()
    return (
        f"{n} PUBLISHes of 1 MiB - 1 KiB over {ntopics} topics in {el:.1f} s"
        + (f", errors: {tally(errors)}" if errors else ", no errors")
        + f"; peak during {mib(peak_during)} MiB; RSS 2 s after the last one: {mib(held)} MiB"
    )


def w6(srv: Server) -> str:
    """MULTI, then 200,000 SETs of 1 KB (pipelined), then EXEC."""
    c = srv.client(timeout=30)
    val = b"x" * 1024
    total = 200_000
    state = {"n": None, "oom": False, "stop_at": None}
    done = threading.Event()

    def writer():
        try:
            c.send("MULTI")
            i = 0
            while i < total and not state["oom"]:
                batch = b"".join(resp_enc("SET", f"key:{j}", val) for j in range(i, min(total, i + 500)))
                c.sock.sendall(batch)
                i = min(total, i + 500)
            state["n"] = i
            c.send("EXEC")
        except OSError as e:
            state["werr"] = type(e).__name__
            state["n"] = state.get("n") or -1
        done.set()

    t0 = time.time()
    wt = threading.Thread(target=writer, daemon=True)
    wt.start()
    queued, errs, exec_reply = 0, [], None
    k = 0
    c.sock.settimeout(30)
    try:
        while time.time() - t0 < 40:
            r = c.read()
            if k == 0:
                k += 1
                continue
            n = state["n"]
            if n is not None and k == n + 1:
                exec_reply = r
                break
            if r == "QUEUED":
                queued += 1
            else:
                errs.append(str(r)[:70])
                if "OOM" in str(r) and not state["oom"]:
                    state["oom"] = True
                    state["stop_at"] = k
            k += 1
    except Exception as e:  # noqa: BLE001
        exec_reply = f"{type(e).__name__}: {short(str(e), 40)}"
    el = time.time() - t0
    c.close()
    if isinstance(exec_reply, list):
        ok = sum(1 for x in exec_reply if x == "OK")
        er = f"array of {len(exec_reply)} ({ok} OK)"
    else:
        er = short(str(exec_reply), 70)
    notes = f"{state['n']} SETs sent after MULTI, {queued} QUEUED"
    if errs:
        notes += f", {len(errs)} errors (first at #{state['stop_at'] or '?'}: {short(errs[0], 60)})"
    return notes + f"; EXEC: {er}; {el:.1f} s"


def info_used_memory(c: Resp) -> str:
    r = c.call("INFO", "memory")
    if isinstance(r, bytes):
        for line in r.decode(errors="replace").splitlines():
            if line.startswith("used_memory:"):
                return f"{int(line.split(':')[1]) / 1048576:.0f} MiB"
    return short(str(r), 40)


def w7a(srv: Server) -> str:
    """SETRANGE k 400000000 x, then only GETs for 3 s, then a 1-byte SETRANGE into it."""
    c = srv.client(timeout=20)
    c.call("SET", "other", "v")
    t = time.perf_counter()
    r = c.call("SETRANGE", "k", "400000000", "x")
    d1 = time.perf_counter() - t
    rss1 = srv.sampler.cur_rss
    lat = []
    end = time.time() + 3
    while time.time() < end:
        t = time.perf_counter()
        c.call("GET", "other")
        lat.append(time.perf_counter() - t)
    time.sleep(0.1)
    rss2 = srv.sampler.cur_rss
    um = info_used_memory(c)
    t = time.perf_counter()
    r2 = c.call("SETRANGE", "k", "0", "y")
    d2 = time.perf_counter() - t
    time.sleep(0.2)
    rss3 = srv.sampler.cur_rss
    c.close()
    return (
        f"`SETRANGE k 400000000 x`: {short(r, 40)} in {ms(d1)}, RSS {mib(rss1)} MiB; "
        f"after 3 s of GETs only ({len(lat)}, max {ms(max(lat))}): RSS {mib(rss2)} MiB, used_memory {um}; "
        f"`SETRANGE k 0 y`: {short(r2, 40)} in {ms(d2)}, RSS then {mib(rss3)} MiB"
    )


def w7b(srv: Server) -> str:
    """64 KB APPENDs up to ~70 MB, timing each; another client PINGs meanwhile."""
    c = srv.client(timeout=20)
    chunk = b"a" * 65536
    pinger = Pinger(srv, 0.01)
    pinger.start()
    lat, err = [], None
    length = 0
    end = time.time() + 20
    while length < 70 * 1048576 and time.time() < end:
        t = time.perf_counter()
        r = c.call("APPEND", "k", chunk)
        lat.append(time.perf_counter() - t)
        if isinstance(r, RespError):
            err = f"{short(str(r), 60)} at {length / 1048576:.0f} MiB"
            break
        length = r
    pinger.stop()
    c.close()
    tail = lat[-100:]
    s = (
        f"{len(lat)} APPENDs of 64 KiB to {length / 1048576:.0f} MiB: median {lat and statistics.median(lat) * 1000:.2f} ms, "
        f"max {ms(max(lat))}, median of the last 100 {statistics.median(tail) * 1000:.2f} ms"
    )
    if err:
        s += f"; stopped by {err}"
    elif length < 70 * 1048576:
        s += "; stopped by the harness's 20 s bound"
    return s + "; " + pinger.summary()


def http_get(port, path, token, timeout=12.0) -> tuple[str, float]:
    t = time.perf_counter()
    try:
        s = socket.create_connection((HOST, port), timeout=timeout)
        s.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n".encode()
        )
        d = s.recv(200)
        s.close()
        st = d.split(b"\r\n", 1)[0].decode(errors="replace").split(" ")[1] if d else "closed"
    except OSError as e:
        st = type(e).__name__
    return st, time.perf_counter() - t


def w8(srv: Server) -> str:
    """Slowloris on the HTTP port while a normal client GETs."""
    c = srv.client(cache="app")
    c.call("SET", "k", "v")
    c.close()
    path = "/cache/app?key=k"
    base = [http_get(srv.http_port, path, srv.h.super_token) for _ in range(3)]
    socks = []
    for _ in range(300):
        try:
            socks.append(socket.create_connection((HOST, srv.http_port), timeout=5))
        except OSError:
            break
    req = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nX-Padding: " + "a" * 100
    results = []
    stop = threading.Event()

    def normal():
        while not stop.is_set():
            results.append(http_get(srv.http_port, path, srv.h.super_token))
            stop.wait(0.2)

    nt = threading.Thread(target=normal, daemon=True)
    nt.start()
    closed = 0
    for sec in range(10):
        for s in socks:
            try:
                s.send(req[sec].encode())
            except OSError:
                closed += 1
        time.sleep(1)
    stop.set()
    nt.join(15)
    import select

    readable, _, _ = select.select(socks, [], [], 0.3)
    still = len(socks) - len(readable)  # readable = the server answered or closed it
    for s in socks:
        s.close()
    lat = [x[1] for x in results]
    return (
        f"{len(socks)} conns dribbling 1 header byte/s for 10 s ({still} still open at the end); normal client: "
        f"baseline max {ms(max(b[1] for b in base))}; under attack {len(results)} GETs, {tally(x[0] for x in results)}, "
        f"max latency {ms(max(lat)) if lat else '-'}, median {ms(statistics.median(lat)) if lat else '-'}"
    )


def tls_handshake(port, alpn, timeout=15.0) -> tuple[str, float]:
    t = time.perf_counter()
    try:
        s = socket.create_connection((HOST, port), timeout=timeout)
        s = insecure_ctx(alpn).wrap_socket(s)
        s.close()
        st = "ok"
    except OSError as e:
        st = type(e).__name__
    return st, time.perf_counter() - t


def w9(srv: Server) -> str:
    """1,100 idle TCP connections (no ClientHello) on each of the HTTPS and gRPC-TLS listeners."""
    base_h = max(tls_handshake(srv.http_port, ["http/1.1"])[1] for _ in range(3))
    base_g = max(tls_handshake(srv.grpc_port, ["h2"])[1] for _ in range(3))
    idle = []
    for port in (srv.http_port, srv.grpc_port):
        for _ in range(1100):
            try:
                idle.append(socket.create_connection((HOST, port), timeout=5))
            except OSError:
                break
    time.sleep(0.3)
    res = {"http": [], "grpc": []}

    def probe(name, port, alpn):
        end = time.time() + 9
        while time.time() < end:
            res[name].append(tls_handshake(port, alpn))
            time.sleep(0.5)

    ts = [
        threading.Thread(target=probe, args=("http", srv.http_port, ["http/1.1"])),
        threading.Thread(target=probe, args=("grpc", srv.grpc_port, ["h2"])),
    ]
    for t in ts:
        t.start()
    for t in ts:
        t.join(40)
    for s in idle:
        s.close()

    def summ(name, base):
        r = res[name]
        lat = [x[1] for x in r]
        return (
            f"{name.upper()}-TLS connect+handshake baseline {ms(base)}, under attack max {ms(max(lat)) if lat else '-'} "
            f"median {ms(statistics.median(lat)) if lat else '-'} ({tally(x[0] for x in r)})"
        )

    return f"{len(idle)} idle TCP conns (1,100 per listener); " + "; ".join(
        [summ("http", base_h), summ("grpc", base_g)]
    )


# ---------------------------------------------------------------- harness

# id, title, function, runs on redis?, Server options
WORKLOADS = [
    ("1a", "1. `SRANDMEMBER k -LONG_MAX`", lambda s: w1(s, "1a"), True, {}),
    ("1b", "1. `HRANDFIELD k -LONG_MAX WITHVALUES`", lambda s: w1(s, "1b"), True, {}),
    ("1c", "1. `ZRANDMEMBER k -LONG_MAX`", lambda s: w1(s, "1c"), True, {}),
    ("2", "2. unauthenticated RESP: huge `*`/`$` headers, 1M tiny args", w2, True, {"requirepass": True}),
    ("3", "3. unauthenticated HTTP: 100 x 5 MB PUT", w3, False, {}),
    ("4", "4. unauthenticated gRPC: 40 streams x 15 MiB", w4, False, {}),
    ("5", "5. publish-only token: 1 MiB to 300 topics", w5, True, {}),
    ("6", "6. MULTI + 200,000 x 1 KB SET + EXEC", w6, True, {}),
    ("7a", "7. `SETRANGE k 400000000 x`, then GETs only", w7a, True, {}),
    ("7b", "7. 64 KB APPENDs up to ~70 MB", w7b, True, {}),
    ("8", "8. slowloris HTTP: 300 conns, 1 byte/s", w8, False, {}),
    ("9", "9. 1,100 idle TCP conns per TLS listener", w9, False, {"tls": True}),
]


class Harness:
    def __init__(self, args, servers):
        self.ferrite_bin = os.path.abspath(args.ferrite_bin)
        self.redis_bin = shutil.which(args.redis_bin) or args.redis_bin
        self.cap_kib = args.rss_cap_mib * 1024
        self.keep = args.keep
        self.tmp = tempfile.mkdtemp(prefix="hostile-keys-")
        self.key_file = os.path.join(self.tmp, "token.key")
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (os.urandom(32).hex() + "\n").encode())
        os.close(fd)
        self.super_token = self.publish_token = None
        if "ferrite" in servers:
            self.super_token = self.mint("--super-user")
            self.publish_token = self.mint("--topic-cache", "default", "--topic-role", "publish")

    def mint(self, *scope) -> str:
        out = subprocess.run(
            [self.ferrite_bin, "token", "create", "--token-key", self.key_file, "--expires", "2h", *scope],
            check=True, capture_output=True, text=True,
        )
        return out.stdout.strip()

    def run_one(self, kind, fn, opts) -> dict:
        srv = Server(
            kind, self,
            tls=opts.get("tls", False),
            requirepass=REDIS_PASS if (kind == "redis" and opts.get("requirepass")) else None,
        )
        t0 = time.time()
        try:
            srv.start()
        except Exception as e:  # noqa: BLE001
            if srv.proc and srv.proc.poll() is None:
                srv.proc.kill()
            return {"peak_rss_kib": None, "alive": "n/a", "notes": f"could not start: {short(str(e), 200)}"}
        try:
            notes = fn(srv)
        except Exception as e:  # noqa: BLE001
            notes = f"workload stopped: {type(e).__name__}: {short(str(e), 120)}"
        res = srv.finish()
        res["notes"] = notes + f" (baseline RSS {mib(res['base_rss_kib'])} MiB, peak VmSize {mib(res['peak_vmsize_kib'])} MiB, {time.time() - t0:.0f} s)"
        return res


def git_rev(bin_path) -> str:
    try:
        d = os.path.dirname(os.path.abspath(bin_path))
        return subprocess.run(["git", "-C", d, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="also write the markdown report here")
    ap.add_argument("--only", help="comma-separated workload ids (1a,1b,1c,2,3,4,5,6,7a,7b,8,9; '1' = 1a,1b,1c)")
    ap.add_argument("--servers", default="ferrite,redis", help="ferrite,redis (default both)")
    ap.add_argument("--ferrite-bin", default=os.environ.get("FERRITE_BIN", "target/release/ferrite"))
    ap.add_argument("--redis-bin", default=os.environ.get("REDIS_BIN", "redis-server"))
    ap.add_argument("--rss-cap-mib", type=int, default=int(os.environ.get("HOSTILE_RSS_CAP_MIB", "3072")),
                    help="SIGKILL a server whose RSS passes this (default 3072)")
    ap.add_argument("--keep", action="store_true", help="keep the servers' temp dirs (logs)")
    ap.add_argument("--title", default="Hostile workloads under `--maxmemory 64mb`")
    args = ap.parse_args()

    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if "ferrite" in servers and not os.path.exists(args.ferrite_bin):
        sys.exit(f"no Ferrite binary at {args.ferrite_bin} (cargo build --release --bin ferrite, or set FERRITE_BIN)")
    if "redis" in servers and not shutil.which(args.redis_bin):
        log(f"redis-server not found ({args.redis_bin}): Redis columns will be n/a")
        servers.remove("redis")
    only = None
    if args.only:
        only = set()
        for w in args.only.split(","):
            w = w.strip()
            only |= {"1a", "1b", "1c"} if w == "1" else ({"7a", "7b"} if w == "7" else {w})
    h = Harness(args, servers)
    redis_ver = "-"
    if "redis" in servers:
        redis_ver = subprocess.run([args.redis_bin, "--version"], capture_output=True, text=True).stdout.split()[2]
    rows = []
    t_all = time.time()
    for wid, title, fn, on_redis, opts in WORKLOADS:
        if only and wid not in only:
            continue
        row = {"title": title}
        for kind in ("ferrite", "redis"):
            if kind not in servers or (kind == "redis" and not on_redis):
                row[kind] = None
                continue
            log(f"[{time.time() - t_all:5.0f}s] workload {wid} on {kind} ...")
            row[kind] = h.run_one(kind, fn, opts)
            log(f"    peak RSS {mib(row[kind]['peak_rss_kib'])} MiB, alive: {row[kind]['alive']}\n    {row[kind]['notes']}")
        rows.append(row)
    shutil.rmtree(h.tmp, ignore_errors=True)

    lines = [
        f"# {args.title}",
        "",
        f"`bench/hostile.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: Ferrite `{args.ferrite_bin}` "
        f"(git {git_rev(args.ferrite_bin)}), redis-server {redis_ver}; {platform.machine()}, {os.cpu_count()} CPUs. "
        f"Every row is a fresh server with `--maxmemory 64mb` (Ferrite in `--auth token`); peak RSS = max of "
        f"VmRSS sampled every 20 ms and VmHWM. Target: peak RSS ≤ ~128 MiB (2x the limit). The harness SIGKILLs a "
        f"server past {args.rss_cap_mib} MiB RSS. Total {time.time() - t_all:.0f} s.",
        "",
        "| workload | Ferrite peak RSS MiB | Ferrite alive? | Ferrite notes | redis-server peak RSS MiB | redis notes |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        f, r = row["ferrite"], row["redis"]
        fc = [mib(f["peak_rss_kib"]), f["alive"], f["notes"]] if f else ["n/a", "n/a", "not run"]
        rc = [mib(r["peak_rss_kib"]), f"alive: {r['alive']}; " + r["notes"]] if r else ["n/a", "no equivalent / not run"]
        lines.append("| " + " | ".join([row["title"]] + fc + rc) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fo:
            fo.write(text)


if __name__ == "__main__":
    main()
