#!/usr/bin/env python3
"""Regenerate src/resp/commands/command_info_subcommands.json: the subcommand entries of
redis-server 7.0's COMMAND INFO (the tenth field of a container's entry: `config|get` & co.).

Rerun (Python 3 standard library only, redis-server 7.0 on the PATH):

    python3 scripts/gen_command_info.py            # rewrite the data file
    python3 scripts/gen_command_info.py --check    # exit 1 if the file is not what Redis answers

Like scripts/gen_command_docs.py (whose RESP3 reader and JSON notation this reuses), it starts its
own redis-server, asks over RESP3, and writes each subcommand's entry with its RESP3 types, so
that COMMAND INFO of a container answers redis-server's bytes for the subcommands Ferrite has
(`acl::categories::SUBCOMMANDS`). The file is {"source": ..., "commands": {"<container>|<sub>":
<entry>, ...}} in name order.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_command_docs as docs  # noqa: E402

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "resp",
                           "commands", "command_info_subcommands.json")


def fetch(redis_server):
    with docs.redis(redis_server) as (conn, version):
        if not version.startswith("7.0."):
            raise RuntimeError("redis-server %s: Ferrite follows 7.0" % version)
        subs = {}
        for entry in conn.call("COMMAND"):
            for sub in entry[9]:
                subs[sub[0]] = sub
        return version, subs


def render(version, subs):
    out = {
        "source": "redis-server %s COMMAND (subcommand entries) over RESP3, written by "
                  "scripts/gen_command_info.py" % version,
        "commands": {k: subs[k] for k in sorted(subs)},
    }
    return docs.dump(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redis-server", default="redis-server")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    version, subs = fetch(a.redis_server)
    text = render(version, subs)
    assert json.loads(text)["commands"] == subs
    if a.check:
        with open(a.out, encoding="utf-8") as f:
            if f.read() != text:
                print("%s differs from redis-server %s; rerun %s" % (a.out, version, sys.argv[0]),
                      file=sys.stderr)
                return 1
        return 0
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text)
    print("wrote %s: redis-server %s, %d subcommands" % (a.out, version, len(subs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
