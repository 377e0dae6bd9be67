"""Run one measurement command; record wall time, server/client CPU and whole-machine CPU.
usage: run.py META_JSONL LABEL SERVER_PID OUTFILE -- cmd...   (SERVER_PID 0 = none)
Appends one JSON line to META_JSONL; foreign_cpu = machine busy CPU not used by server or client
(other work on the machine during the measurement, i.e. noise). Same approach as
../shared/bench/redis-nats-baseline.sh."""
import json, os, resource, subprocess, sys, time
meta, label, spid, outfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
cmd = sys.argv[sys.argv.index('--') + 1:]
tck = os.sysconf('SC_CLK_TCK')
def proc_cpu(pid):
    if pid <= 0: return 0.0
    try:
        f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
        return (int(f[11]) + int(f[12])) / tck
    except Exception: return 0.0
def stat():
    v = [int(x) for x in open('/proc/stat').readline().split()[1:]]
    idle = v[3] + v[4]; steal = v[7] if len(v) > 7 else 0
    return sum(v[:8]) / tck, idle / tck, steal / tck
def loadavg(): return open('/proc/loadavg').read().split()[0]
r0 = resource.getrusage(resource.RUSAGE_CHILDREN); s0 = proc_cpu(spid); m0 = stat(); t0 = time.time()
with open(outfile, 'wb') as fo:
    rc = subprocess.call(cmd, stdout=fo, stderr=subprocess.STDOUT)
t1 = time.time(); m1 = stat(); s1 = proc_cpu(spid); r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
client = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
tot = m1[0] - m0[0]; idle = m1[1] - m0[1]
rec = dict(label=label, rc=rc, wall=round(t1 - t0, 3), server_cpu=round(s1 - s0, 3),
           client_cpu=round(client, 3), machine_busy_cpu=round(tot - idle, 3),
           steal=round(m1[2] - m0[2], 3), loadavg1=loadavg(), out=outfile)
rec['foreign_cpu'] = round(max(0.0, rec['machine_busy_cpu'] - rec['server_cpu'] - rec['client_cpu']), 3)
with open(meta, 'a') as f: f.write(json.dumps(rec) + '\n')
sys.exit(rc)
