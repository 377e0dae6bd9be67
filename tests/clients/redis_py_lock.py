"""redis-py's Lock (its acquire, release, extend and reacquire are Lua scripts) used as its
users use it, against Ferrite. Usage: redis_py_lock.py RESP_HOST:PORT. Run by
tests/redis_py_cache.rs."""
import sys
import threading
import time

import redis
from redis.exceptions import LockError, LockNotOwnedError

host, port = sys.argv[1].rsplit(":", 1)
r = redis.Redis(host=host, port=int(port))
other = redis.Redis(host=host, port=int(port))

lock = r.lock("resource", timeout=5)
assert lock.acquire(blocking=False)
assert lock.locked() and lock.owned()
# another holder cannot take or release it
theirs = other.lock("resource", timeout=5)
assert not theirs.acquire(blocking=False)
try:
    theirs.release()
    raise SystemExit("released someone else's lock")
except LockError:
    pass
assert lock.extend(10)
assert 5000 < r.pttl("resource") <= 15000
assert lock.reacquire()
lock.release()
assert not r.exists("resource")
# the lock expired meanwhile and another holder took it: releasing is refused by the script
lock = r.lock("resource", timeout=5)
assert lock.acquire(blocking=False)
r.delete("resource")
assert theirs.acquire(blocking=False)
try:
    lock.release()
    raise SystemExit("released a lock another holder owns")
except LockNotOwnedError:
    pass
theirs.release()

# mutual exclusion: 4 threads increment a counter under the lock, read-modify-write
r.set("counter", 0)


def work():
    c = redis.Redis(host=host, port=int(port))
    for _ in range(25):
        with c.lock("counter-lock", timeout=5, blocking_timeout=10):
            v = int(c.get("counter"))
            time.sleep(0.001)
            c.set("counter", v + 1)


threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert int(r.get("counter")) == 100, r.get("counter")
print("ok")
