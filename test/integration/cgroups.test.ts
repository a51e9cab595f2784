// cgroups on this host (v1 controllers, plus the unified tree on hybrid hosts; on a pure v2
// host the same checks read the v2 files): limits read back from the host side and their
// effect inside (OOM kill, fork limit, frozen processes), pause/resume/ps/events/update,
// kill --all, and delete removing every cgroup directory in every case.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Bundle, BundleOptions, makeBundle } from '../helpers/bundle';
import { readOr, stopTapSpawnHooks, tsrunAsync } from '../helpers/container';
import { forceDelete, freshRoot, pidAlive, residue, state, tsrun, tsrunBuilt, uniqueId, waitFor } from '../helpers/tsrun';

stopTapSpawnHooks();
const CG = '/sys/fs/cgroup';
const V2 = fs.existsSync(`${CG}/cgroup.controllers`);
if (process.getuid?.() !== 0) {
  t.plan(0, 'cgroup integration tests need root');
  process.exit(0);
}
if (!tsrunBuilt()) {
  t.plan(0, 'dist/tsrun.js is not built: npm run build');
  process.exit(0);
}
const root = freshRoot();
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));

/** Host path of a cgroup file of container `id` (default cgroupsPath /<id>). */
function cgFile(id: string, ctrl: string, v1File: string, v2File = v1File, inner = `/${id}`): string {
  return V2 ? path.join(CG, inner, v2File) : path.join(CG, ctrl, inner, v1File);
}
const readCg = (...a: Parameters<typeof cgFile>) => fs.readFileSync(cgFile(...a), 'utf8').trim();

interface Ctr {
  id: string;
  bundle: Bundle;
  out: string;
  err: string;
}

function newCtr(tt: Tap, opts: BundleOptions): Ctr {
  const id = uniqueId('cg');
  const bundle = makeBundle(opts);
  const out = path.join(bundle.dir, 'out');
  const err = path.join(bundle.dir, 'err');
  tt.teardown(() => {
    if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
    bundle.cleanup();
  });
  return { id, bundle, out, err };
}

/** At the end of a test: nothing of the container left (state, mounts, cgroups, processes). */
function clean(tt: Tap, c: Ctr): void {
  tt.same(residue(c.id, root, { bundle: c.bundle.dir }), [], `${c.id}: nothing left`);
  tt.same(findCgroups(c.id), [], `find /sys/fs/cgroup -name '*${c.id}*' is empty`);
}

function findCgroups(needle: string): string[] {
  const r = require('node:child_process').spawnSync('find', [CG, '-name', `*${needle}*`], { encoding: 'utf8' }) as { stdout: string };
  return r.stdout.split('\n').filter(Boolean);
}
type Tap = Test;

function ok(tt: Tap, args: string[], what = args.join(' ')) {
  const r = tsrun(args, { root });
  tt.equal(r.status, 0, `${what}: ${r.stderr.trim()}`);
  return r;
}

function create(tt: Tap, c: Ctr): number {
  const r = tsrun(['create', '--bundle', c.bundle.dir, c.id], { root, stdoutFile: c.out, stderrFile: c.err });
  tt.equal(r.status, 0, `create: ${r.stderr.trim()}`);
  return state(c.id, root).pid;
}

const withResources = (args: string[], resources: object, more: (c: BundleOptions['mutate'] extends ((x: infer C) => void) | undefined ? C : never) => void = () => {}): BundleOptions => ({
  args,
  mutate: (config) => {
    config.linux.resources = { ...config.linux.resources, ...resources };
    more(config);
  },
});

function procState(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return '';
  }
}

t.test('a 1 MiB memory limit: the init is not charged for Node, echo hi runs', async (tt) => {
  const c = newCtr(tt, withResources(['echo', 'hi'], { memory: { limit: 1048576 } }));
  const pid = create(tt, c);
  tt.equal(readCg(c.id, 'memory', 'memory.limit_in_bytes', 'memory.max'), '1048576');
  const usage = Number(readCg(c.id, 'memory', 'memory.usage_in_bytes', 'memory.current'));
  tt.ok(usage <= 1048576, `usage right after create: ${usage} bytes (the Node init has ~40 MB)`);
  const own = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  tt.match(own, new RegExp(V2 ? `^0::/${c.id}$` : `memory:/${c.id}$`, 'm'), 'the init is in the container cgroup');
  if (!V2) tt.match(own, new RegExp(`^0::/${c.id}$`, 'm'), 'hybrid: also in the unified hierarchy');
  ok(tt, ['start', c.id]);
  tt.ok(waitFor(() => state(c.id, root).status === 'stopped'), 'exits');
  tt.equal(fs.readFileSync(c.out, 'utf8'), 'hi\n');
  ok(tt, ['delete', c.id]);
  clean(tt, c);
});

t.test('OOM: an allocation over the limit is killed; events reports oom and stats', async (tt) => {
  // tail alone grows (no newline in /dev/zero): with `head | tail`, head's next pipe write
  // could invoke the OOM killer again before tail's memory was freed, and it took sh (seen once).
  const c = newCtr(tt, withResources(['sh', '-c', 'tail /dev/zero > /dev/null; echo status=$?'], { memory: { limit: 16 << 20, swap: 16 << 20 } }));
  create(tt, c);
  const eventsOut = path.join(c.bundle.dir, 'events.out');
  const events = tsrunAsync(['events', '--interval', '200ms', c.id], { root, timeout: 60_000, stdoutFile: eventsOut });
  // Start only once events watches: its first stats line is out.
  tt.ok(waitFor(() => /"type":"stats"/.test(readOr(eventsOut)), 20_000), `events has taken its first look: ${readOr(eventsOut).slice(0, 100)}`);
  ok(tt, ['start', c.id]);
  tt.ok(waitFor(() => state(c.id, root).status === 'stopped', 30_000), 'container ends');
  tt.match(fs.readFileSync(c.out, 'utf8'), /status=137/, 'tail was SIGKILLed by the OOM killer');
  const r = await events.done;
  tt.equal(r.status, 0, `events ends with the container: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; id: string; data?: Record<string, unknown> });
  tt.ok(lines.some((e) => e.type === 'oom' && e.id === c.id), 'an oom event');
  const stats = lines.find((e) => e.type === 'stats');
  tt.ok(stats?.data && 'memory' in stats.data && 'cpu' in stats.data && 'pids' in stats.data, 'stats events shaped like runc\'s');
  if (!V2) tt.match(readCg(c.id, 'memory', 'memory.oom_control'), /oom_kill [1-9]/);
  ok(tt, ['delete', c.id]);
  clean(tt, c);
});

t.test('pids.max stops a fork loop', async (tt) => {
  const c = newCtr(tt, withResources(['sh', '-c', 'mkfifo /dev/f; (i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done); echo forked; read x < /dev/f'], { pids: { limit: 10 } }));
  create(tt, c);
  tt.equal(readCg(c.id, 'pids', 'pids.max'), '10');
  ok(tt, ['start', c.id]);
  tt.ok(waitFor(() => /forked/.test(fs.readFileSync(c.out, 'utf8')), 20_000), 'the loop finished');
  const current = Number(readCg(c.id, 'pids', 'pids.current'));
  tt.ok(current >= 9 && current <= 10, `at the limit (${current}; the subshell whose fork failed is gone)`);
  tt.match(readCg(c.id, 'pids', 'pids.events'), /max [1-9]/, 'pids.events counted refused forks');
  tt.match(fs.readFileSync(c.err, 'utf8'), /can't fork|Resource temporarily unavailable/i, 'fork failed inside');
  const ps = tsrun(['ps', '--format', 'json', c.id], { root });
  tt.equal((JSON.parse(ps.stdout) as number[]).length, current, 'ps lists them all');
  ok(tt, ['kill', '--all', c.id, 'KILL']);
  tt.ok(waitFor(() => state(c.id, root).status === 'stopped'), 'kill --all stops it');
  ok(tt, ['delete', c.id]);
  clean(tt, c);
});

t.test('pause, resume, ps, kill --all', async (tt) => {
  const c = newCtr(tt, { args: ['sh', '-c', 'sleep 1000 & sleep 1000 & wait'] });
  create(tt, c);
  ok(tt, ['start', c.id]);
  tt.ok(waitFor(() => (JSON.parse(tsrun(['ps', '--format', 'json', c.id], { root }).stdout || '[]') as number[]).length === 3), 'three processes');
  const pids = JSON.parse(tsrun(['ps', '--format', 'json', c.id], { root }).stdout) as number[];
  const table = tsrun(['ps', c.id], { root }).stdout;
  tt.match(table, /PID/, 'table header');
  for (const pid of pids) tt.match(table, new RegExp(`\\b${pid}\\b`), `table lists ${pid}`);

  ok(tt, ['pause', c.id]);
  tt.equal(state(c.id, root).status, 'paused');
  if (!V2) tt.equal(readCg(c.id, 'freezer', 'freezer.state'), 'FROZEN');
  else tt.match(readCg(c.id, '', 'cgroup.events'), /frozen 1/);
  for (const pid of pids) tt.equal(procState(pid), V2 ? 'S' : 'D', `pid ${pid} frozen`);
  tt.equal(tsrun(['pause', c.id], { root }).status, 1, 'pause twice fails');
  tt.equal(tsrun(['start', c.id], { root }).status, 1, 'start of a paused container fails');

  ok(tt, ['resume', c.id]);
  tt.equal(state(c.id, root).status, 'running');
  tt.match(tsrun(['resume', c.id], { root }).stderr, /not paused/);
  for (const pid of pids) tt.equal(procState(pid), 'S', `pid ${pid} runs again`);

  ok(tt, ['kill', '--all', c.id, 'TERM']);
  tt.ok(waitFor(() => pids.every((p) => !pidAlive(p))), 'every process got the signal');
  tt.ok(waitFor(() => state(c.id, root).status === 'stopped'), 'stopped');
  ok(tt, ['delete', c.id]);
  clean(tt, c);
});

t.test('update: flags and --resources JSON (zeros mean unset) change the files', async (tt) => {
  const c = newCtr(tt, withResources(['sleep', '1000'], { memory: { limit: 32 << 20 }, pids: { limit: 50 } }));
  create(tt, c);
  const usage = Number(readCg(c.id, 'memory', 'memory.usage_in_bytes', 'memory.current'));
  tt.ok(usage < 4 << 20, `the created container is charged ${usage} bytes, not the Node init's ~40 MB`);
  ok(tt, ['update', '--memory', '64m', '--pids-limit', '20', '--cpu-shares', '512', '--cpu-quota', '20000', '--cpu-period', '100000', '--cpuset-cpus', '0', c.id]);
  tt.equal(readCg(c.id, 'memory', 'memory.limit_in_bytes', 'memory.max'), String(64 << 20));
  tt.equal(readCg(c.id, 'pids', 'pids.max'), '20');
  tt.equal(readCg(c.id, 'cpu', 'cpu.shares', 'cpu.weight'), V2 ? '20' : '512');
  tt.equal(readCg(c.id, 'cpu', 'cpu.cfs_quota_us', 'cpu.max'), V2 ? '20000 100000' : '20000');
  tt.equal(readCg(c.id, 'cpuset', 'cpuset.cpus'), '0');
  const docker = JSON.stringify({ memory: { limit: 0, reservation: 0, kernel: 0 }, cpu: { shares: 256, quota: 0, period: 0 }, pids: { limit: 100 }, blockIO: { weight: 0 } });
  const r = tsrun(['update', '--resources', '-', c.id], { root, input: docker });
  tt.equal(r.status, 0, r.stderr);
  tt.equal(readCg(c.id, 'memory', 'memory.limit_in_bytes', 'memory.max'), String(64 << 20), 'zero limit left it alone');
  tt.equal(readCg(c.id, 'pids', 'pids.max'), '100');
  tt.equal(readCg(c.id, 'cpu', 'cpu.shares', 'cpu.weight'), V2 ? '10' : '256');
  const file = path.join(c.bundle.dir, 'res.json');
  fs.writeFileSync(file, JSON.stringify({ pids: { limit: 30 } }));
  ok(tt, ['update', '--resources', file, c.id]);
  tt.equal(readCg(c.id, 'pids', 'pids.max'), '30');
  tt.match(tsrun(['update', '--pids-limit', 'x', c.id], { root }).stderr, /pids-limit/);
  tt.match(tsrun(['update', '--resources', '-', c.id], { root, input: '{"memory":{"swappiness":500}}' }).stderr, /linux\.resources\.memory\.swappiness/);
  const stats = JSON.parse(tsrun(['events', '--stats', c.id], { root }).stdout) as { type: string; id: string; data: { memory: { usage: { limit: number } }; pids: { limit: number } } };
  tt.equal(stats.type, 'stats');
  tt.equal(stats.id, c.id);
  tt.equal(stats.data.memory.usage.limit, 64 << 20);
  tt.equal(stats.data.pids.limit, 30);
  tt.equal(tsrun(['update', '--memory', '1m', uniqueId('none')], { root }).status, 1, 'unknown container');
  ok(tt, ['delete', '--force', c.id]);
  clean(tt, c);
});

t.test('delete removes the cgroups: after SIGKILL of the init, and while paused', async (tt) => {
  const a = newCtr(tt, { args: ['sleep', '1000'] });
  const pid = create(tt, a);
  ok(tt, ['start', a.id]);
  process.kill(pid, 'SIGKILL');
  tt.ok(waitFor(() => state(a.id, root).status === 'stopped'), 'stopped after SIGKILL');
  tt.ok(fs.existsSync(cgFile(a.id, 'memory', '')), 'cgroup still there before delete');
  ok(tt, ['delete', a.id]);
  tt.notOk(fs.existsSync(cgFile(a.id, 'memory', '')));
  clean(tt, a);

  const b = newCtr(tt, { args: ['sh', '-c', 'sleep 1000 & sleep 1000'] });
  create(tt, b);
  ok(tt, ['start', b.id]);
  ok(tt, ['pause', b.id]);
  tt.equal(tsrun(['delete', b.id], { root }).status, 1, 'a paused container needs --force');
  ok(tt, ['delete', '--force', b.id]);
  clean(tt, b);

  const c = newCtr(tt, { args: ['sleep', '1000'] });
  create(tt, c);
  ok(tt, ['pause', c.id], 'pause a created container');
  tt.equal(state(c.id, root).status, 'paused');
  ok(tt, ['kill', c.id, 'KILL'], 'SIGKILL to a paused container');
  tt.ok(waitFor(() => state(c.id, root).status === 'stopped'), 'it dies (thawed after the signal)');
  ok(tt, ['delete', c.id]);
  clean(tt, c);
});

const noHuge = !fs.existsSync('/sys/kernel/mm/hugepages/hugepages-2048kB') && 'no 2 MB huge pages on this kernel';
t.test('hugepageLimits: v1 hugetlb, or the unified tree\'s on hybrid hosts without it', { skip: noHuge }, async (tt) => {
  const c = newCtr(tt, withResources(['true'], { hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }] }));
  create(tt, c);
  const v1 = path.join(CG, 'hugetlb', c.id, 'hugetlb.2MB.limit_in_bytes');
  const unified = path.join(V2 ? CG : path.join(CG, 'unified'), c.id, 'hugetlb.2MB.max');
  tt.equal(fs.readFileSync(fs.existsSync(v1) ? v1 : unified, 'utf8').trim(), String(4 << 20));
  ok(tt, ['delete', c.id]);
  clean(tt, c);
});

t.test('cgroupsPath: nested absolute path made and removed; systemd form refused', async (tt) => {
  const parent = uniqueId('cgp');
  const c = newCtr(tt, withResources(['sleep', '100'], { memory: { limit: 8 << 20 } }, (config) => {
    config.linux.cgroupsPath = `/${parent}/ctr`;
  }));
  create(tt, c);
  tt.equal(readCg(c.id, 'memory', 'memory.limit_in_bytes', 'memory.max', `/${parent}/ctr`), String(8 << 20));
  ok(tt, ['delete', '--force', c.id]);
  clean(tt, c);
  tt.same(findCgroups(parent), [], 'the parent made for it is gone too');

  const s = newCtr(tt, { args: ['true'], mutate: (config) => void (config.linux.cgroupsPath = 'system.slice:tsrun:x') });
  const r = tsrun(['create', '--bundle', s.bundle.dir, s.id], { root });
  tt.equal(r.status, 1);
  tt.match(r.stderr, /not supported without systemd/);
  clean(tt, s);
});

t.test('invalid or unsupported values fail create naming the field, leaving nothing', async (tt) => {
  const cases: Array<[object, RegExp]> = [
    [{ memory: { swappiness: 200 } }, V2 ? /linux\.resources\.memory\.swappiness/ : /linux\.resources\.memory\.swappiness: invalid value 200/],
    [{ cpu: { shares: 1 } }, /linux\.resources\.cpu\.shares/],
    [{ pids: { limit: 1.5 } }, /pids/],
    [{ hugepageLimits: [{ pageSize: '3MB', limit: 1 }] }, /linux\.resources\.hugepageLimits\[0\]/],
    [{ unified: { 'nope.nope': '1' } }, /linux\.resources\.unified\.nope\.nope/],
    [{ devices: [{ allow: true, access: 'x' }] }, /devices|access/],
  ];
  for (const [resources, re] of cases) {
    const c = newCtr(tt, withResources(['true'], resources));
    const r = tsrun(['create', '--bundle', c.bundle.dir, c.id], { root });
    tt.equal(r.status, 1, JSON.stringify(resources));
    tt.match(r.stderr, re, JSON.stringify(resources));
    clean(tt, c);
  }
});

t.test('devices: the rules are written and enforced', async (tt) => {
  const c = newCtr(tt, {
    args: ['sh', '-c', 'mknod /dev/sdx b 8 0 && echo mknod-ok; head -c 1 /dev/sdx >/dev/null; echo sdx=$?; echo hi > /dev/null && echo null-ok'],
    mutate: (config) => {
      for (const k of ['bounding', 'effective', 'permitted'] as const) config.process.capabilities![k] = [...(config.process.capabilities![k] ?? []), 'CAP_MKNOD'];
    },
  });
  create(tt, c);
  if (!V2) {
    const list = readCg(c.id, 'devices', 'devices.list');
    tt.match(list, /^c 1:3 rwm$/m, '/dev/null allowed');
    tt.match(list, /^b \*:\* m$/m, 'mknod of block devices allowed');
    tt.notMatch(list, /^a /m, 'not allow-all');
  }
  ok(tt, ['start', c.id]);
  tt.ok(waitFor(() => state(c.id, root).status === 'stopped'), 'exits');
  const out = fs.readFileSync(c.out, 'utf8');
  tt.match(out, /mknod-ok/);
  tt.match(out, /sdx=1/, 'reading a denied block device fails');
  tt.match(fs.readFileSync(c.err, 'utf8'), /Operation not permitted/);
  tt.match(out, /null-ok/);
  ok(tt, ['delete', c.id]);
  clean(tt, c);
});

t.test('the cgroup mount shows the container its own cgroup, with and without a cgroup namespace', async (tt) => {
  for (const privateNs of [true, false]) {
    const limitFile = V2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
    const c = newCtr(
      tt,
      withResources(['cat', limitFile], { memory: { limit: 6291456 } }, (config) => {
        config.mounts.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'ro'] });
        const namespaces = (config.linux.namespaces ?? []).filter((ns) => ns.type !== 'cgroup');
        config.linux.namespaces = privateNs ? [...namespaces, { type: 'cgroup' }] : namespaces;
      }),
    );
    create(tt, c);
    ok(tt, ['start', c.id]);
    tt.ok(waitFor(() => state(c.id, root).status === 'stopped'), 'exits');
    tt.equal(fs.readFileSync(c.out, 'utf8'), '6291456\n', `cgroup namespace ${privateNs ? 'private' : 'shared'}: the container reads its own limit`);
    ok(tt, ['delete', c.id]);
    clean(tt, c);
  }
});

t.test('a 1 MiB limit with runc spec\'s mounts (cgroup mount, sysfs, mqueue, devpts) still runs echo hi', async (tt) => {
  const c = newCtr(
    tt,
    withResources(['echo', 'hi'], { memory: { limit: 1048576 } }, (config) => {
      config.mounts.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] });
    }),
  );
  create(tt, c);
  // What create charges: the exec of tsrun-stage (page tables, its text pages when the first
  // container after a build faults them in) and its set-up; Node's ~40 MB stays outside.
  const usage = Number(readCg(c.id, 'memory', 'memory.max_usage_in_bytes', 'memory.peak'));
  tt.ok(usage < 768 * 1024, `peak usage after create: ${usage} bytes`);
  ok(tt, ['start', c.id]);
  tt.ok(waitFor(() => state(c.id, root).status === 'stopped'), 'exits');
  tt.equal(fs.readFileSync(c.out, 'utf8'), 'hi\n');
  ok(tt, ['delete', c.id]);
  clean(tt, c);
});
