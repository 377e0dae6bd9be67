#!/usr/bin/env python3
"""Regenerate src/resp/commands/command_docs_redis.json: redis-server 7.0's COMMAND DOCS.

Rerun (from anywhere; Python 3 standard library only, redis-server 7.0 on the PATH):

    python3 scripts/gen_command_docs.py            # rewrite the data file
    python3 scripts/gen_command_docs.py --check    # exit 1 if the file is not what Redis answers
    python3 scripts/gen_command_docs.py --redis-server /path/to/redis-server

The script starts its own redis-server on a free loopback port (no persistence, a temporary
directory), switches to RESP3 (`HELLO 3`), sends `COMMAND DOCS` and writes the whole reply tree
with its RESP3 types, for every Redis command, so that src/resp/commands/command_docs.rs can
answer COMMAND DOCS with redis-server's bytes in RESP2 and RESP3. Ferrite answers only for the
commands in its own table; its own commands (which Redis lacks) are documented by hand, in the
same format, in src/resp/commands/command_docs_ferrite.json (this script does not touch it).

The data format (one JSON value per RESP3 node):

    "text"              bulk string
    123                 integer
    null                null
    [a, b, ...]         array
    {"k": v, ...}       map with bulk-string keys, in the order written
    {"~": [a, ...]}     set            (an object whose only key is "~")
    {"+": "text"}       simple string  (an object whose only key is "+")

The file is {"source": "...", "commands": {"<name>": <the command's docs map>, ...}}, commands in
name order. Redis sends the top-level commands and each command's "subcommands" map in its
dict's hash order, which changes with every start; both are written here sorted by name (and
Ferrite answers in that order).
"""

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "src", "resp", "commands", "command_docs_redis.json")
WIDTH = 100


class Resp3:
    """A minimal blocking RESP3 client: commands as arrays of bulks, replies as typed trees."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def call(self, *parts):
        out = b"*%d\r\n" % len(parts)
        for p in parts:
            p = p.encode() if isinstance(p, str) else p
            out += b"$%d\r\n%s\r\n" % (len(p), p)
        self.sock.sendall(out)
        return self.read()

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("redis-server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode("utf-8")
        if kind == b"+":
            return {"+": rest.decode("utf-8")}
        if kind == b"-":
            raise RuntimeError("redis-server answered an error: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"_":
            return None
        if kind in (b"*", b"~"):
            items = [self.read() for _ in range(int(rest))]
            return items if kind == b"*" else {"~": items}
        if kind == b"%":
            m = {}
            for _ in range(int(rest)):
                k = self.read()
                if not isinstance(k, str):
                    raise ValueError("map key is not a bulk string: %r" % (k,))
                if k in m:
                    raise ValueError("duplicate map key %r" % k)
                m[k] = self.read()
            if len(m) == 1 and next(iter(m)) in ("~", "+"):
                raise ValueError("a map whose only key is %r would read as a set/simple" % k)
            return m
        # Doubles, booleans, verbatim strings, ...: COMMAND DOCS sends none; the format has no
        # notation for them, so fail rather than write something else.
        raise ValueError("unexpected RESP3 type %r in COMMAND DOCS" % kind)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def redis(redis_server):
    """A redis-server of its own on a free loopback port (no persistence, a temporary
    directory), and a RESP3 connection to it; killed on exit. Yields (connection, version)."""
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="ferrite-gen-")
    proc = subprocess.Popen(
        [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                conn = Resp3(port)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start on port %d" % port)
                time.sleep(0.05)
        hello = conn.call("HELLO", "3")
        yield conn, hello["version"]
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def fetch(redis_server, any_version):
    with redis(redis_server) as (conn, version):
        if not version.startswith("7.0.") and not any_version:
            raise RuntimeError("redis-server %s: Ferrite follows 7.0's COMMAND DOCS "
                               "(--any-version to write it anyway)" % version)
        return version, conn.call("COMMAND", "DOCS")


def sort_subcommands(node):
    """Subcommand maps in name order (Redis's order is its dict's, random per start)."""
    if isinstance(node, dict) and "subcommands" in node:
        subs = node["subcommands"]
        node["subcommands"] = {k: sort_subcommands(subs[k]) for k in sorted(subs)}
    return node


def dump(node, indent=0, used=0):
    """JSON with nested values on their own lines unless they fit in WIDTH columns (`used`:
    columns already taken on the value's first line, by its key)."""
    flat = json.dumps(node, ensure_ascii=False, separators=(", ", ": "))
    if indent + used + len(flat) <= WIDTH or not isinstance(node, (dict, list)) or not node:
        return flat
    pad = " " * (indent + 2)
    if isinstance(node, list):
        items = [pad + dump(v, indent + 2) for v in node]
    else:
        items = []
        for k, v in node.items():
            key = json.dumps(k, ensure_ascii=False) + ": "
            items.append(pad + key + dump(v, indent + 2, len(key)))
    open_, close = ("[", "]") if isinstance(node, list) else ("{", "}")
    return open_ + "\n" + ",\n".join(items) + "\n" + " " * indent + close


def render(version, docs):
    commands = {k: sort_subcommands(docs[k]) for k in sorted(docs)}
    out = {
        "source": "redis-server %s COMMAND DOCS over RESP3, written by scripts/gen_command_docs.py"
                  % version,
        "commands": commands,
    }
    return dump(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redis-server", default="redis-server")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true",
                    help="compare with the file instead of writing it")
    ap.add_argument("--any-version", action="store_true",
                    help="accept a redis-server other than 7.0")
    a = ap.parse_args()
    version, docs = fetch(a.redis_server, a.any_version)
    text = render(version, docs)
    # The writer must read back what Redis sent (the notation is unambiguous).
    assert json.loads(text)["commands"] == {k: sort_subcommands(v) for k, v in docs.items()}
    if a.check:
        with open(a.out, encoding="utf-8") as f:
            if f.read() != text:
                print("%s differs from redis-server %s's COMMAND DOCS; rerun %s"
                      % (a.out, version, sys.argv[0]), file=sys.stderr)
                return 1
        print("%s: up to date (redis-server %s, %d commands)" % (a.out, version, len(docs)))
        return 0
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text)
    print("wrote %s: redis-server %s, %d commands" % (a.out, version, len(docs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
