#!/usr/bin/env python3
"""Smoke test: the official Momento Python SDK (`pip install momento`, tested with 1.29.1) against a
local Ferrite's gRPC port.

    python3 -m venv /tmp/pyvenv && /tmp/pyvenv/bin/pip install momento
    target/release/ferrite serve --resp-port 0 --grpc-port 50051 --http-port 0 --admin-port 0 &
    /tmp/pyvenv/bin/python bench/sdk/python_smoke.py [--host 127.0.0.1] [--port 50051]

Connects twice, the two ways the SDK supports for a plaintext local endpoint (see README, "Using
the Momento SDKs against Ferrite"): `CredentialProvider.for_momento_local(host, port)` (empty
token; the SDK uses an insecure channel whenever port != 443) and an explicit
`CredentialProvider(token, control, cache, token_endpoint, port)` that sends a real token (Ferrite's
development auth mode accepts any). Exits non-zero on the first unexpected response.
"""

import argparse
import asyncio
import sys
import time
import uuid
from datetime import timedelta

from momento import CacheClient, Configurations, CredentialProvider, TopicClientAsync, TopicConfigurations
from momento.responses import (
    CacheDelete,
    CacheDictionaryFetch,
    CacheDictionarySetFields,
    CacheGet,
    CacheIncrement,
    CacheListConcatenateBack,
    CacheListFetch,
    CacheListPushBack,
    CacheSet,
    CacheSetAddElements,
    CacheSetFetch,
    CacheSortedSetFetch,
    CacheSortedSetPutElements,
    CreateCache,
    DeleteCache,
    TopicPublish,
    TopicSubscribe,
    TopicSubscriptionItem,
)

CHECKS = 0


def expect(label, resp, cls):
    """Fail with the response's repr unless it is an instance of `cls`."""
    global CHECKS
    if not isinstance(resp, cls):
        print(f"FAIL {label}: expected {cls.__qualname__}, got {resp!r}", file=sys.stderr)
        sys.exit(1)
    CHECKS += 1
    return resp


def check(label, cond, detail=""):
    global CHECKS
    if not cond:
        print(f"FAIL {label}: {detail}", file=sys.stderr)
        sys.exit(1)
    CHECKS += 1


async def topics(creds, cache_name, n_messages):
    """Subscribe, publish n_messages texts and one binary, read them back in order.

    Uses TopicClientAsync: the synchronous Subscription iterator of SDK 1.29.1 retries forever,
    without blocking, once its stream has ended (also after unsubscribe()), so a reader thread left
    behind spins and starves the rest of the process.
    """
    async with TopicClientAsync(TopicConfigurations.Default.v1(), creds) as tc:
        sub = expect("subscribe", await tc.subscribe(cache_name, "t"), TopicSubscribe.SubscriptionAsync)
        for i in range(n_messages):
            expect("publish", await tc.publish(cache_name, "t", f"msg-{i}"), TopicPublish.Success)
        expect("publish binary", await tc.publish(cache_name, "t", b"\x01\x02"), TopicPublish.Success)
        received = []

        async def read_all():
            async for item in sub:
                received.append(item)
                if len(received) == n_messages + 1:
                    return

        try:
            await asyncio.wait_for(read_all(), timeout=20)
        except asyncio.TimeoutError:
            pass
        check("received all", len(received) == n_messages + 1, f"{len(received)} of {n_messages + 1}; last: {received[-3:]!r}")
        for i, item in enumerate(received[:n_messages]):
            check("text item", isinstance(item, TopicSubscriptionItem.Text), repr(item))
            check("text order", item.value == f"msg-{i}", repr(item))
        check("binary item", isinstance(received[-1], TopicSubscriptionItem.Binary), repr(received[-1]))
        check("binary value", received[-1].value == b"\x01\x02", repr(received[-1]))
        sub.unsubscribe()


def exercise(creds, label, n_messages):
    cache_name = f"py-smoke-{label}-{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    with CacheClient.create(Configurations.Laptop.v1(), creds, timedelta(seconds=60)) as cache:
        expect("create_cache", cache.create_cache(cache_name), CreateCache.Success)
        expect("create_cache again", cache.create_cache(cache_name), CreateCache.CacheAlreadyExists)

        # scalars
        expect("set", cache.set(cache_name, "k", "v1"), CacheSet.Success)
        hit = expect("get", cache.get(cache_name, "k"), CacheGet.Hit)
        check("get value", hit.value_string == "v1", repr(hit))
        expect("set bytes", cache.set(cache_name, b"kb", b"\x00\xff", ttl=timedelta(seconds=5)), CacheSet.Success)
        hit = expect("get bytes", cache.get(cache_name, b"kb"), CacheGet.Hit)
        check("get bytes value", hit.value_bytes == b"\x00\xff", repr(hit))
        expect("delete", cache.delete(cache_name, "k"), CacheDelete.Success)
        expect("get after delete", cache.get(cache_name, "k"), CacheGet.Miss)

        # increment
        r = expect("increment", cache.increment(cache_name, "ctr", 5), CacheIncrement.Success)
        check("increment value", r.value == 5, repr(r))
        r = expect("increment again", cache.increment(cache_name, "ctr", -2), CacheIncrement.Success)
        check("increment value 2", r.value == 3, repr(r))

        # dictionary
        expect(
            "dictionary_set_fields",
            cache.dictionary_set_fields(cache_name, "d", {"a": "1", "b": "2"}),
            CacheDictionarySetFields.Success,
        )
        r = expect("dictionary_fetch", cache.dictionary_fetch(cache_name, "d"), CacheDictionaryFetch.Hit)
        check("dictionary value", r.value_dictionary_string_string == {"a": "1", "b": "2"}, repr(r))
        expect("dictionary_fetch miss", cache.dictionary_fetch(cache_name, "nod"), CacheDictionaryFetch.Miss)

        # list
        expect("list_push_back", cache.list_push_back(cache_name, "l", "x"), CacheListPushBack.Success)
        r = expect(
            "list_concatenate_back",
            cache.list_concatenate_back(cache_name, "l", ["y", "z"]),
            CacheListConcatenateBack.Success,
        )
        check("list length", r.list_length == 3, repr(r))
        r = expect("list_fetch", cache.list_fetch(cache_name, "l"), CacheListFetch.Hit)
        check("list value", r.value_list_string == ["x", "y", "z"], repr(r))

        # set
        expect("set_add_elements", cache.set_add_elements(cache_name, "s", ["p", "q", "p"]), CacheSetAddElements.Success)
        r = expect("set_fetch", cache.set_fetch(cache_name, "s"), CacheSetFetch.Hit)
        check("set value", r.value_set_string == {"p", "q"}, repr(r))

        # sorted set
        expect(
            "sorted_set_put_elements",
            cache.sorted_set_put_elements(cache_name, "z", {"one": 1.0, "two": 2.0, "three": 3.0}),
            CacheSortedSetPutElements.Success,
        )
        r = expect("sorted_set_fetch_by_rank", cache.sorted_set_fetch_by_rank(cache_name, "z"), CacheSortedSetFetch.Hit)
        check("zset by rank", r.value_list_string == [("one", 1.0), ("two", 2.0), ("three", 3.0)], repr(r))
        r = expect(
            "sorted_set_fetch_by_score",
            cache.sorted_set_fetch_by_score(cache_name, "z", min_score=1.5, max_score=3.0),
            CacheSortedSetFetch.Hit,
        )
        check("zset by score", r.value_list_string == [("two", 2.0), ("three", 3.0)], repr(r))

        # topics (async client, see topics() below)
        asyncio.run(topics(creds, cache_name, n_messages))

        expect("delete_cache", cache.delete_cache(cache_name), DeleteCache.Success)
        expect("delete_cache again", cache.delete_cache(cache_name), DeleteCache.Error)
    print(f"[{label}] OK in {time.monotonic() - t0:.2f}s ({n_messages}+1 topic messages)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=50051)
    ap.add_argument("--messages", type=int, default=20)
    a = ap.parse_args()
    # 1. Momento Local style: empty auth token, plaintext because port != 443.
    exercise(CredentialProvider.for_momento_local(a.host, a.port), "for_momento_local", a.messages)
    # 2. A real token over plaintext: (auth_token, control_endpoint, cache_endpoint, token_endpoint, port).
    exercise(CredentialProvider("local-dev", a.host, a.host, a.host, a.port), "explicit-token", a.messages)
    print(f"ALL OK: {CHECKS} checks")


if __name__ == "__main__":
    main()
