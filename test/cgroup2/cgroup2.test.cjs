// cgroup v2 for real: runs where /sys/fs/cgroup is cgroup2 (natively as root, or in the
// pure-v2 VM: ../shared/tools/v2vm/run-in-v2vm.sh, which .ci/run uses on hybrid hosts).
// Plain JavaScript and node:test, so that the slow VM (software emulation) loads nothing
// but node: `run-in-v2vm.sh -- node --test test/cgroup2/`. Few containers: each tsrun call
// costs ~2 s in the VM. Elsewhere every test is skipped with the reason.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const top = path.resolve(__dirname, '..', '..');
const tsrunJs = process.env.TSRUN_JS || path.join(top, 'dist', 'tsrun.js');
const CG = '/sys/fs/cgroup';

function skipReason() {
  if (!fs.existsSync(path.join(CG, 'cgroup.controllers'))) {
    return `${CG} is not cgroup2 on this host (hybrid/v1): .ci/run runs this file in the v2 VM (../shared/tools/v2vm/run-in-v2vm.sh -- node --test test/cgroup2/)`;
  }
  if (process.getuid() !== 0) return 'needs root';
  if (!fs.existsSync(tsrunJs)) return `${tsrunJs} is not built: npm run build`;
  return undefined;
}
const skip = skipReason();

/** The busybox rootfs the TS helpers use (same cache path), built here if missing. */
function rootfs() {
  const script = path.join(top, 'scripts', 'make-rootfs.sh');
  const hash = crypto.createHash('sha256').update(fs.readFileSync(script)).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `tsrun-test-rootfs-${hash}`);
  if (fs.existsSync(path.join(dir, '.complete'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  const r = spawnSync('bash', [script, tmp], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-rootfs.sh failed: ${r.stderr}`);
  fs.writeFileSync(path.join(tmp, '.complete'), '');
  fs.renameSync(tmp, dir);
  return dir;
}

const env = {};
for (const [k, v] of Object.entries(process.env)) if (!/^(NODE_OPTIONS|NODE_TEST_CONTEXT|TAP|_TAPJS)/.test(k)) env[k] = v;

let root;
function tsrun(args, opts = {}) {
  root ??= fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-v2-root-'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-v2-out-'));
  const out = opts.stdoutFile || path.join(tmp, 'out');
  const err = opts.stderrFile || path.join(tmp, 'err');
  const o = fs.openSync(out, 'a');
  const e = fs.openSync(err, 'a');
  const from = [fs.fstatSync(o).size, fs.fstatSync(e).size];
  const r = spawnSync(process.execPath, [tsrunJs, '--root', root, ...args], {
    env, input: opts.input, stdio: [opts.input === undefined ? 'ignore' : 'pipe', o, e], timeout: 120_000,
  });
  fs.closeSync(o);
  fs.closeSync(e);
  const res = {
    status: r.status,
    stdout: fs.readFileSync(out).subarray(from[0]).toString(),
    stderr: fs.readFileSync(err).subarray(from[1]).toString(),
  };
  fs.rmSync(tmp, { recursive: true, force: true });
  return res;
}
function ok(args) {
  const r = tsrun(args);
  assert.equal(r.status, 0, `tsrun ${args.join(' ')}: ${r.stderr}`);
  return r;
}
const status = (id) => JSON.parse(ok(['state', id]).stdout).status;
const cg = (id, file) => fs.readFileSync(path.join(CG, id, file), 'utf8').trim();
function waitFor(pred, ms = 30_000) {
  const end = Date.now() + ms;
  const sab = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < end) {
    if (pred()) return true;
    Atomics.wait(sab, 0, 0, 50);
  }
  return pred();
}
function findCgroups(id) {
  return spawnSync('find', [CG, '-name', `*${id}*`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
}

const bundles = [];
function bundle(args, linux, caps = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-v2-bundle-'));
  bundles.push(dir);
  const c = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', ...caps];
  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: false, user: { uid: 0, gid: 0 }, args, cwd: '/', noNewPrivileges: true,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      capabilities: { bounding: c, effective: c, permitted: c },
    },
    root: { path: rootfs(), readonly: false },
    hostname: 'v2',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
      ...linux,
      resources: { devices: [{ allow: false, access: 'rwm' }], ...(linux.resources || {}) },
    },
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}
const id = (name) => `v2-${name}-${process.pid}`;

test.after(() => {
  if (skip) return;
  for (const name of ['mem', 'limits', 'oom']) tsrun(['delete', '--force', id(name)]);
  for (const dir of bundles) fs.rmSync(dir, { recursive: true, force: true });
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

test('1 MiB memory limit runs echo hi; device rules enforced by the eBPF program', { skip }, () => {
  const c = id('mem');
  const b = bundle(['sh', '-c', 'echo hi; cat /sys/fs/cgroup/memory.max; mknod /dev/sdx b 8 0 && head -c 1 /dev/sdx >/dev/null; echo sdx=$?; echo x > /dev/null && echo null-ok'],
    { resources: { memory: { limit: 1048576 } } }, ['CAP_MKNOD']);
  const r = tsrun(['run', '--bundle', b, c]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^hi\n1048576\n/, 'inside, the cgroup namespace root is the container cgroup, limited to 1 MiB');
  assert.match(r.stdout, /sdx=1/, 'reading a denied block device fails');
  assert.match(r.stderr, /Operation not permitted/);
  assert.match(r.stdout, /null-ok/, '/dev/null is allowed (runc defaults)');
  assert.deepEqual(findCgroups(c), []);
});

test('limits, pause/resume, ps, update, events, kill --all, delete', { skip }, () => {
  const c = id('limits');
  let vda;
  try {
    const st = fs.statSync('/dev/vda');
    vda = { major: Math.floor(st.rdev / 256) & 0xfff, minor: st.rdev & 0xff };
  } catch {
    vda = undefined;
  }
  const resources = {
    memory: { limit: 32 << 20, swap: 64 << 20, reservation: 8 << 20 },
    pids: { limit: 10 },
    cpu: { shares: 1024, quota: 50000, period: 100000 },
    unified: { 'memory.high': '30000000' },
  };
  if (vda) resources.blockIO = { weight: 500, throttleReadBpsDevice: [{ ...vda, rate: 1048576 }] };
  const huge = fs.existsSync('/sys/kernel/mm/hugepages/hugepages-2048kB');
  if (huge) resources.hugepageLimits = [{ pageSize: '2MB', limit: 4 << 20 }];
  const b = bundle(['sh', '-c', 'sleep 1000 & sleep 1000 & wait'], { resources });
  ok(['create', '--bundle', b, c]);
  assert.equal(cg(c, 'memory.max'), String(32 << 20));
  assert.equal(cg(c, 'memory.swap.max'), String(32 << 20), 'OCI swap (memory+swap) - limit');
  assert.equal(cg(c, 'memory.low'), String(8 << 20));
  assert.equal(cg(c, 'pids.max'), '10');
  assert.equal(cg(c, 'cpu.weight'), '39', 'shares 1024 -> weight 39');
  assert.equal(cg(c, 'cpu.max'), '50000 100000');
  assert.equal(cg(c, 'memory.high'), '29999104', '30000000 rounded down to pages');
  if (vda) assert.match(cg(c, 'io.max'), new RegExp(`^${vda.major}:${vda.minor} rbps=1048576 `));
  if (huge) assert.equal(cg(c, 'hugetlb.2MB.max'), String(4 << 20));
  assert.ok(Number(cg(c, 'memory.current')) < 4 << 20, `the Node init is not charged (${cg(c, 'memory.current')} bytes)`);

  ok(['start', c]);
  assert.ok(waitFor(() => JSON.parse(ok(['ps', '--format', 'json', c]).stdout).length === 3), 'three processes');
  const pids = JSON.parse(ok(['ps', '--format', 'json', c]).stdout);
  assert.deepEqual(pids, cg(c, 'cgroup.procs').split('\n').map(Number).sort((x, y) => x - y));

  ok(['pause', c]);
  assert.equal(status(c), 'paused');
  assert.match(cg(c, 'cgroup.events'), /frozen 1/);
  ok(['resume', c]);
  assert.equal(status(c), 'running');
  assert.match(cg(c, 'cgroup.events'), /frozen 0/);

  ok(['update', '--memory', '64m', '--memory-swap', '128m', '--pids-limit', '20', '--cpu-shares', '2', c]);
  assert.equal(cg(c, 'memory.max'), String(64 << 20));
  assert.equal(cg(c, 'memory.swap.max'), String(64 << 20));
  assert.equal(cg(c, 'pids.max'), '20');
  assert.equal(cg(c, 'cpu.weight'), '1');
  const r = tsrun(['update', '--resources', '-', c], { input: '{"pids":{"limit":0},"cpu":{"quota":20000,"period":0}}' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(cg(c, 'pids.max'), '20', 'zero means unset');
  assert.equal(cg(c, 'cpu.max'), '20000 100000');

  const ev = JSON.parse(ok(['events', '--stats', c]).stdout);
  assert.equal(ev.type, 'stats');
  assert.equal(ev.id, c);
  assert.equal(ev.data.memory.usage.limit, 64 << 20);
  assert.equal(ev.data.pids.current, 3);
  assert.ok(ev.data.cpu.usage.total > 0);

  ok(['kill', '--all', c, 'KILL']);
  assert.ok(waitFor(() => status(c) === 'stopped'), 'stopped');
  ok(['delete', c]);
  assert.deepEqual(findCgroups(c), []);
});

test('OOM kill counted in memory.events; delete --force while paused', { skip }, () => {
  const c = id('oom');
  // tail alone (see the v1 OOM test: a pipe writer could draw a second OOM kill onto sh).
  const b = bundle(['sh', '-c', 'tail /dev/zero >/dev/null; echo status=$?; mkfifo /dev/f; read x < /dev/f'],
    { resources: { memory: { limit: 16 << 20, swap: 16 << 20 } } });
  const out = path.join(b, 'out');
  const r = tsrun(['create', '--bundle', b, c], { stdoutFile: out });
  assert.equal(r.status, 0, r.stderr);
  ok(['start', c]);
  assert.ok(waitFor(() => /status=/.test(fs.readFileSync(out, 'utf8'))), 'tail ended');
  assert.match(fs.readFileSync(out, 'utf8'), /status=137/, 'tail was SIGKILLed');
  assert.match(cg(c, 'memory.events'), /oom_kill [1-9]/);
  ok(['pause', c]);
  ok(['delete', '--force', c]);
  assert.deepEqual(findCgroups(c), []);
});
