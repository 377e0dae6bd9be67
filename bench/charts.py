"""Charts for a bench/run.sh run: reads the parts' machine-readable results and writes PNGs.
usage: charts.py ROOT    (ROOT holds kv/, mixed/, memory/, pubsub/, grpc/ from bench/run.sh)
Writes ROOT/*.png and prints the Markdown image lines. Parts that did not run are skipped."""
import collections, json, os, statistics, sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt

root = sys.argv[1]
COLORS = {'ferrite': '#d9480f', 'redis': '#1c7ed6', 'nats': '#37b24d', 'memcached': '#868e96'}
made = []


def load(path):
    p = os.path.join(root, path)
    if not os.path.exists(p):
        return None
    if p.endswith('.jsonl'):
        return [json.loads(l) for l in open(p) if l.strip()]
    return json.load(open(p))


def bars(fname, title, ylabel, groups, series, value, log=False):
    """groups: x labels; series: server names; value(group, server) -> number or None"""
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(groups) + 2), 4))
    w = 0.8 / max(1, len(series))
    for i, s in enumerate(series):
        xs = [j + (i - (len(series) - 1) / 2) * w for j in range(len(groups))]
        ys = [value(g, s) or 0 for g in groups]
        ax.bar(xs, ys, w, label=s, color=COLORS.get(s))
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=30, ha='right', fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if log:
        ax.set_yscale('log')
    ax.legend(fontsize=8)
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(root, fname), dpi=110)
    plt.close(fig)
    made.append((fname, title))


kv = load('kv/points.json')
if kv:
    pts = sorted({(d['op'], d['size'], d['clients'], d['pipeline']) for d in kv})
    servers = [s for s in ('ferrite', 'redis') if any(d['server'] == s for d in kv)]
    idx = {(d['server'], d['op'], d['size'], d['clients'], d['pipeline']): d for d in kv}
    lbl = {p: f'{p[0].upper()} {p[1]}B c{p[2]} P{p[3]}' for p in pts}
    groups = [lbl[p] for p in pts]
    inv = {v: k for k, v in lbl.items()}
    for field, fname, title, ylabel in (
            ('rps', 'kv_ops.png', 'redis-benchmark: ops/s (higher is better)', 'ops/s'),
            ('opcpu', 'kv_ops_per_cpu.png', 'ops per server CPU-second (higher is better)', 'ops / CPU-s'),
            ('p99', 'kv_p99.png', 'p99 latency, ms (lower is better)', 'ms')):
        bars(fname, title, ylabel, groups, servers, lambda g, s: idx.get((s,) + inv[g], {}).get(field))

mixed = load('mixed/mixed.jsonl')
if mixed:
    by = collections.defaultdict(list)
    for d in mixed:
        by[(d['server'], d['value'], d['conns'], d['pipeline'])].append(d['ops_s'])
    pts = sorted({k[1:] for k in by})
    groups = [f'{v}B c{c} P{p}' for v, c, p in pts]
    servers = [s for s in ('ferrite', 'redis') if any(k[0] == s for k in by)]
    bars('mixed_ops.png', '90% GET / 10% SET, zipfian keys: ops/s', 'ops/s', groups, servers,
         lambda g, s: statistics.median(by[(s,) + pts[groups.index(g)]]) if by.get((s,) + pts[groups.index(g)]) else None)

mem = load('memory/memory.jsonl')
if mem:
    by = collections.defaultdict(list)
    for d in mem:
        by[(d['server'], d['size'], d['ttl'])].append((d['rss_after_kb'] - d['rss_before_kb']) * 1024 / d['n'])
    pts = sorted({k[1:] for k in by})
    groups = [f'{s}B value, {t}' for s, t in pts]
    servers = [s for s in ('ferrite', 'redis', 'memcached') if any(k[0] == s for k in by)]
    bars('memory_per_item.png', 'RSS bytes per item, 1M items, 16 B keys (lower is better)', 'bytes / item', groups,
         servers, lambda g, s: statistics.median(by[(s,) + pts[groups.index(g)]]) if by.get((s,) + pts[groups.index(g)]) else None)

ps = load('pubsub/points.json')
if ps:
    mx = [d for d in ps if d['mode'] == 'max']
    pts = sorted({(d['subs'], d['size']) for d in mx})
    groups = [f'{n} subs, {b}B' for n, b in pts]
    servers = [s for s in ('ferrite', 'redis', 'nats') if any(d['server'] == s for d in mx)]
    idx = {(d['server'], d['subs'], d['size']): d for d in mx}
    bars('pubsub_delivered.png', 'pub/sub fan-out: delivered msgs/s (higher is better)', 'msgs/s', groups, servers,
         lambda g, s: idx.get((s,) + pts[groups.index(g)], {}).get('deliv'))

for fname, title in made:
    print(f'![{title}]({fname})')
