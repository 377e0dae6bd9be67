"""redis-py's client-side caching (cache_config, RESP3 + CLIENT TRACKING) against Ferrite.

Usage: redis_py_cache.py RESP_HOST:PORT HTTP_HOST:PORT. Run by tests/redis_py_cache.rs.

A cached read must come from redis-py's local cache (the server does not see it again), and
after another writer changes the key (a second RESP connection, Ferrite's HTTP API) the next
reads must see the new value once the invalidation has arrived: each check waits at most
`PATIENCE` for it, as any client of a server with independent connections must.
"""
import sys
import time
import urllib.request

import redis
import redis.connection
from redis.cache import CacheConfig

# redis-py gates client-side caching on the server's HELLO saying Redis 7.4 or later (a product
# gate, not a protocol need: CLIENT TRACKING is Redis 6's). Ferrite says 7.2.0, the version whose
# commands it implements, so the gate is lowered to it here.
redis.connection.CacheProxyConnection.MIN_ALLOWED_VERSION = "7.2.0"

PATIENCE = 5.0


def fresh(r, key, want):
    deadline = time.time() + PATIENCE
    while True:
        got = r.get(key)
        if got == want:
            return
        if time.time() > deadline:
            raise SystemExit(f"stale cache: {key!r} is {got!r}, want {want!r}")
        time.sleep(0.01)


def main():
    rhost, rport = sys.argv[1].rsplit(":", 1)
    http = sys.argv[2]
    r = redis.Redis(host=rhost, port=int(rport), protocol=3, cache_config=CacheConfig())
    other = redis.Redis(host=rhost, port=int(rport))
    other.set("k", "v1")
    assert r.get("k") == b"v1"
    # cached: the server serves no further GET for it
    before = other.info("commandstats").get("cmdstat_get", {}).get("calls", 0)
    for _ in range(20):
        assert r.get("k") == b"v1"
    after = other.info("commandstats").get("cmdstat_get", {}).get("calls", 0)
    if after - before > 1:
        raise SystemExit(f"not cached: the server saw {after - before} GETs")
    if r.get_cache().size < 1:
        raise SystemExit("redis-py's cache holds nothing")
    # a RESP writer
    other.set("k", "v2")
    fresh(r, "k", b"v2")
    # the HTTP API (Momento-style PUT)
    req = urllib.request.Request(
        f"http://{http}/cache/default?key=k&ttl_seconds=60", data=b"v3", method="PUT"
    )
    urllib.request.urlopen(req).read()
    fresh(r, "k", b"v3")
    # a delete, and a flush
    other.delete("k")
    fresh(r, "k", None)
    other.set("k", "v4")
    fresh(r, "k", b"v4")
    other.flushall()
    fresh(r, "k", None)
    print("ok")


main()
