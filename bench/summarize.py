"""Summarize a bench/pubsub.sh or bench/kv.sh run into Markdown.
usage: summarize.py pubsub|kv OUTDIR   (writes OUTDIR/summary.md and prints it, and the medians
to OUTDIR/points.json for bench/charts.py)"""
import json, os, re, statistics, sys

kind, out = sys.argv[1], sys.argv[2]
meta = [json.loads(l) for l in open(os.path.join(out, 'meta.jsonl')) if l.strip()]
L = []
P = L.append


def med(xs):
    xs = [x for x in xs if x is not None and x == x]
    return statistics.median(xs) if xs else None


def f0(x): return 'n/a' if x is None else f'{x:,.0f}'
def f1(x): return 'n/a' if x is None else f'{x:,.1f}'
def f2(x): return 'n/a' if x is None else f'{x:.2f}'
def f3(x): return 'n/a' if x is None else f'{x:.3f}'
def ratio(a, b): return None if a is None or b is None or b == 0 else a / b
def rx(a, b):
    r = ratio(a, b)
    return 'n/a' if r is None else f'{r:.2f}'


def env():
    p = os.path.join(out, 'env.txt')
    if os.path.exists(p):
        P('```'); P(open(p).read().strip()); P('```'); P('')


def noise(rows):
    fw = [r['foreign_cpu'] / r['wall'] for r in rows if r['wall']]
    la = [float(r['loadavg1']) for r in rows]
    st = [r['steal'] / r['wall'] for r in rows if r['wall']]
    return fw, la, st


def noise_line(rows):
    fw, la, st = noise(rows)
    if not fw: return
    P(f'Noise during the measurements: other processes used median {statistics.median(fw):.2f} '
      f'(max {max(fw):.2f}) CPUs besides server and client; 1-min loadavg {min(la):.2f}–{max(la):.2f}; '
      f'steal {statistics.median(st):.2f} CPUs. Anything above ~0.1 CPU means the figures are noisy.')
    P('')


if kind == 'pubsub':
    runs = {}
    for r in meta:
        _, srv, subs, size, mode, rep = r['label'].split('|')
        try:
            lines = [t for t in open(r['out']).read().splitlines() if t.count(',') >= 16]
        except OSError:
            lines = []
        d = dict(srv=srv, subs=int(subs), size=int(size), mode=mode, rep=int(rep), rc=r['rc'], ok=False,
                 scpu=r['server_cpu'] / r['wall'] if r['wall'] else None, meta=r)
        if lines:
            f = lines[-1].split(',')
            d.update(ok=True, pub=float(f[6]), deliv=float(f[7]), p50=float(f[8]), p99=float(f[9]),
                     p999=float(f[10]), mx=float(f[11]), lost=int(float(f[13])), notstop=int(f[14]),
                     lag=float(f[15]), bad=int(f[16]))
        runs.setdefault((srv, int(subs), int(size), mode), []).append(d)
    servers = [s for s in ('ferrite', 'redis', 'nats') if any(k[0] == s for k in runs)]
    points = sorted({(k[1], k[2]) for k in runs})
    modes = sorted({k[3] for k in runs if k[3] != 'max'}, key=lambda m: int(m[1:]))

    def g(srv, subs, size, mode, key):
        return med([d.get(key) for d in runs.get((srv, subs, size, mode), []) if d['ok']])

    reps = max(d['rep'] for v in runs.values() for d in v)
    P(f'# Pub/sub fan-out: Ferrite vs {", ".join(s for s in servers if s != "ferrite")} ({out})')
    P('')
    env()
    P(f'psbench: 1 publisher -> N subscribers on one topic, loopback, servers on one core, client on another. '
      f'Cells are medians over {reps} rep(s). Ratios are Ferrite / peer from the same run: for msgs/s above 1 '
      f'means Ferrite is faster; for latency above 1 means Ferrite is slower.')
    P('')
    noise_line(meta)
    peers = [s for s in servers if s != 'ferrite']
    P('## Delivered msgs/s, closed loop (psbench --rate 0; higher is better)')
    P('')
    P('| subs | msg B | ' + ' | '.join(f'{s} msgs/s' for s in servers) + ' | '
      + ' | '.join(f'ferrite/{s}' for s in peers) + ' | ' + ' | '.join(f'{s} CPU s/s' for s in servers) + ' |')
    P('|' + '---|' * (2 + 2 * len(servers) + len(peers)))
    for subs, size in points:
        fv = g('ferrite', subs, size, 'max', 'deliv')
        P(f'| {subs} | {size} | ' + ' | '.join(f0(g(s, subs, size, 'max', 'deliv')) for s in servers) + ' | '
          + ' | '.join(rx(fv, g(s, subs, size, 'max', 'deliv')) for s in peers) + ' | '
          + ' | '.join(f2(g(s, subs, size, 'max', 'scpu')) for s in servers) + ' |')
    P('')
    for mode in modes:
        rate = int(mode[1:])
        P(f'## Publish-to-receive latency at a fixed {rate:,} publishes/s (µs, p50 / p99 / p99.9; lower is better)')
        P('')
        P(f'Every subscriber gets every message, so N subscribers means N x {rate:,} deliveries/s. '
          f'"achieved" is the publish rate each server actually sustained (below the target = saturated).')
        P('')
        P('| subs | msg B | ' + ' | '.join(f'{s} µs' for s in servers) + ' | '
          + ' | '.join(f'ferrite/{s}' for s in peers) + ' | achieved pub/s (' + '/'.join(servers) + ') |')
        P('|' + '---|' * (3 + len(servers) + len(peers)))
        for subs, size in points:
            def trip(s):
                v = [g(s, subs, size, mode, k) for k in ('p50', 'p99', 'p999')]
                return ' / '.join(f1(x) for x in v)
            def rtrip(s):
                return ' / '.join(rx(g('ferrite', subs, size, mode, k), g(s, subs, size, mode, k))
                                  for k in ('p50', 'p99', 'p999'))
            P(f'| {subs} | {size} | ' + ' | '.join(trip(s) for s in servers) + ' | '
              + ' | '.join(rtrip(s) for s in peers) + ' | '
              + ' / '.join(f0(g(s, subs, size, mode, 'pub')) for s in servers) + ' |')
        P('')
    if 'ferrite' in servers and 'redis' in servers:
        P('## Issue 3 goals')
        P('')
        worse = [(subs, size, ratio(g('ferrite', subs, size, 'max', 'deliv'), g('redis', subs, size, 'max', 'deliv')))
                 for subs, size in points]
        bad = [w for w in worse if w[2] is None or w[2] < 1.0]
        P('- Delivered msgs/s >= redis-server at every point: '
          + ('**met**' if not bad else '**not met** at ' + ', '.join(
              f'{s} subs/{b} B (x{r:.2f})' if r is not None else f'{s} subs/{b} B (n/a)' for s, b, r in bad)))
        for mode in modes:
            v = [(size, g('ferrite', 100, size, mode, 'p99')) for s_, size in points if s_ == 100]
            if v:
                P(f'- p99 publish-to-receive < 1 ms at 100 subscribers, {int(mode[1:]):,} publishes/s: '
                  + ', '.join(f'{size} B: {f1(p)} µs ' + ('(met)' if p is not None and p < 1000 else '(**not met**)')
                              for size, p in v))
        P('')
    # machine-readable medians for bench/charts.py
    json.dump([dict(server=k[0], subs=k[1], size=k[2], mode=k[3],
                    **{f: g(k[0], k[1], k[2], k[3], f) for f in ('pub', 'deliv', 'p50', 'p99', 'p999', 'scpu')})
               for k in sorted(runs)], open(os.path.join(out, 'points.json'), 'w'), indent=1)
    issues = []
    for v in runs.values():
        for d in v:
            if not d['ok']:
                issues.append(f"{d['srv']} {d['subs']} subs {d['size']} B {d['mode']} rep{d['rep']}: no result (rc {d['rc']})")
            elif d['lost'] or d['notstop'] or d['bad']:
                issues.append(f"{d['srv']} {d['subs']} subs {d['size']} B {d['mode']} rep{d['rep']}: lost {d['lost']}, "
                              f"subscribers not stopped {d['notstop']}, bad PUBLISH replies {d['bad']}")
    P('## Run problems')
    P('')
    P('\n'.join(f'- {i}' for i in sorted(issues)) if issues else 'None: no lost messages, every run completed.')
    P('')
    P('## Every run')
    P('')
    P('| server | subs | msg B | mode | rep | pub/s | delivered/s | p50 µs | p99 µs | p99.9 µs | max µs | lost | server CPU s/s | other CPU | loadavg |')
    P('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for key in sorted(runs, key=lambda k: (k[1], k[2], k[3] != 'max', k[3], servers.index(k[0]))):
        for d in sorted(runs[key], key=lambda d: d['rep']):
            m = d['meta']
            if d['ok']:
                P(f"| {d['srv']} | {d['subs']} | {d['size']} | {d['mode']} | {d['rep']} | {f0(d['pub'])} | {f0(d['deliv'])} | "
                  f"{f1(d['p50'])} | {f1(d['p99'])} | {f1(d['p999'])} | {f0(d['mx'])} | {d['lost']} | {f2(d['scpu'])} | "
                  f"{f2(m['foreign_cpu'] / m['wall'])} | {m['loadavg1']} |")
            else:
                P(f"| {d['srv']} | {d['subs']} | {d['size']} | {d['mode']} | {d['rep']} | failed (rc {d['rc']}) |" + " |" * 9)
    P('')

elif kind == 'kv':
    def rb_parse(path):
        """redis-benchmark (7.x) full output -> ops/s, p50, p99, p99.9 (ms)"""
        try:
            txt = open(path, errors='replace').read().replace('\r', '\n')
        except OSError:
            return None
        rps = re.search(r'throughput summary: ([\d.]+) requests per second', txt)
        summ = re.search(r'avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)', txt)
        dist = [(float(a), float(b)) for a, b in
                re.findall(r'^\s*([\d.]+)% <= ([\d.]+) milliseconds \(cumulative', txt, re.M)]
        if not rps or not summ:
            return None
        p999 = next((v for p, v in dist if p >= 99.9), None)
        return dict(rps=float(rps.group(1)), p50=float(summ.group(3)), p99=float(summ.group(5)), p999=p999)

    runs = {}
    for r in meta:
        _, srv, op, size, c, p, rep = r['label'].split('|')
        d = rb_parse(r['out']) or {}
        d.update(rc=r['rc'], ok=bool(d), srv=srv, rep=int(rep), meta=r)
        if d['ok']:
            d['scpu'] = r['server_cpu'] / r['wall'] if r['wall'] else None
            d['opcpu'] = d['rps'] / d['scpu'] if d['scpu'] and d['scpu'] > 0.02 else None
            d['foreign'] = r['foreign_cpu'] / r['wall'] if r['wall'] else None
        runs.setdefault((srv, op, int(size), int(c), int(p)), []).append(d)
    servers = [s for s in ('ferrite', 'redis') if any(k[0] == s for k in runs)]
    points = sorted({k[1:] for k in runs}, key=lambda k: (k[0], k[1], k[2], k[3]))

    def g(srv, pt, key):
        return med([d.get(key) for d in runs.get((srv,) + pt, []) if d['ok']])

    reps = max(d['rep'] for v in runs.values() for d in v)
    P(f'# Key/value: Ferrite vs redis-server (redis-benchmark, {out})')
    P('')
    env()
    P(f'redis-benchmark -r 100000 (random keys over a preloaded 100k keyspace), server on one core, client on '
      f'another, loopback. Cells are medians over {reps} rep(s). Latency is client-side, in ms. "CPU s/s" is '
      f'server CPU-seconds per wall second; "ops/CPU-s" is ops/s divided by it. Ratios are Ferrite / redis-server '
      f'from the same run: ops/s and ops/CPU-s above 1 = Ferrite better; latency above 1 = Ferrite slower.')
    P('')
    noise_line(meta)
    P('| op | value B | clients | pipeline | ferrite ops/s | redis ops/s | ops ratio | ferrite p50 / p99 / p99.9 ms '
      '| redis p50 / p99 / p99.9 ms | latency ratio p50 / p99 / p99.9 | ferrite CPU s/s | redis CPU s/s '
      '| ferrite ops/CPU-s | redis ops/CPU-s | ops/CPU-s ratio |')
    P('|' + '---|' * 15)
    slower = []
    for pt in points:
        op, size, c, p = pt
        F = {k: g('ferrite', pt, k) for k in ('rps', 'p50', 'p99', 'p999', 'scpu', 'opcpu')}
        R = {k: g('redis', pt, k) for k in ('rps', 'p50', 'p99', 'p999', 'scpu', 'opcpu')}
        r = ratio(F['rps'], R['rps'])
        if r is not None and r < 1.0:
            slower.append(f'{op.upper()} {size} B c{c} P{p} (x{r:.2f})')
        P(f"| {op.upper()} | {size} | {c} | {p} | {f0(F['rps'])} | {f0(R['rps'])} | {rx(F['rps'], R['rps'])} | "
          f"{f3(F['p50'])} / {f3(F['p99'])} / {f3(F['p999'])} | {f3(R['p50'])} / {f3(R['p99'])} / {f3(R['p999'])} | "
          f"{rx(F['p50'], R['p50'])} / {rx(F['p99'], R['p99'])} / {rx(F['p999'], R['p999'])} | "
          f"{f2(F['scpu'])} | {f2(R['scpu'])} | {f0(F['opcpu'])} | {f0(R['opcpu'])} | {rx(F['opcpu'], R['opcpu'])} |")
    P('')
    json.dump([dict(server=srv, op=pt[0], size=pt[1], clients=pt[2], pipeline=pt[3],
                    **{f: g(srv, pt, f) for f in ('rps', 'p50', 'p99', 'p999', 'scpu', 'opcpu')})
               for srv in servers for pt in points], open(os.path.join(out, 'points.json'), 'w'), indent=1)
    P('Ferrite ops/s below redis-server at: ' + (', '.join(slower) if slower else 'none'))
    P('')
    fails = [f"{d['srv']} {k[1]} {k[2]} B c{k[3]} P{k[4]} rep{d['rep']} (rc {d['rc']})"
             for k, v in runs.items() for d in v if not d['ok']]
    P('## Run problems')
    P('')
    P('\n'.join(f'- no result: {x}' for x in sorted(fails)) if fails else 'None: every run completed.')
    P('')
    P('## Every run')
    P('')
    P('| server | op | value B | clients | pipeline | rep | ops/s | p50 ms | p99 ms | p99.9 ms | server CPU s/s | other CPU | loadavg |')
    P('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for key in sorted(runs, key=lambda k: (k[1], k[2], k[3], k[4], servers.index(k[0]))):
        for d in sorted(runs[key], key=lambda d: d['rep']):
            m = d['meta']
            if d['ok']:
                P(f"| {key[0]} | {key[1].upper()} | {key[2]} | {key[3]} | {key[4]} | {d['rep']} | {f0(d['rps'])} | "
                  f"{f3(d['p50'])} | {f3(d['p99'])} | {f3(d['p999'])} | {f2(d['scpu'])} | {f2(d['foreign'])} | {m['loadavg1']} |")
            else:
                P(f"| {key[0]} | {key[1].upper()} | {key[2]} | {key[3]} | {key[4]} | {d['rep']} | failed (rc {d['rc']}) |" + " |" * 6)
    P('')
else:
    sys.exit('usage: summarize.py pubsub|kv OUTDIR')

open(os.path.join(out, 'summary.md'), 'w').write('\n'.join(L) + '\n')
print('\n'.join(L))
