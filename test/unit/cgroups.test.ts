// The cgroup drivers against a fake cgroupfs tree in a temp dir (no root needed): layout
// detection, path resolution, what create/apply/freeze/destroy write, errors naming the
// field, the device rules (v1 writes, v2 eBPF program checked by a small interpreter), and
// the update/events argument handling.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  blkioToIoWeight, CgroupFs, CgroupRecord, CgroupV1, CgroupV2, detectLayout, openCgroup, parseProcCgroup, resolveCgroup, sharesToWeight,
} from '../../src/cgroups';
import {
  allowedByRules, DEFAULT_ALLOWED, deviceProgram, deviceRules, encodeProgram, runProgram, v1DeviceWrites,
} from '../../src/cgroups/devices';
import { dropZeros, mergeResources, parseBytes, parseDuration } from '../../src/container/cgroup-ops';
import { resourcesFromArgs } from '../../src/cli/commands/update';

const V1_FILES: Record<string, string[]> = {
  memory: ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.soft_limit_in_bytes', 'memory.swappiness', 'memory.oom_control',
    'memory.use_hierarchy', 'memory.usage_in_bytes', 'memory.kmem.tcp.limit_in_bytes', 'memory.stat', 'memory.failcnt', 'memory.max_usage_in_bytes'],
  cpu: ['cpu.shares', 'cpu.cfs_period_us', 'cpu.cfs_quota_us', 'cpu.cfs_burst_us', 'cpu.rt_period_us', 'cpu.rt_runtime_us', 'cpu.idle', 'cpu.stat'],
  cpuacct: ['cpuacct.usage', 'cpuacct.usage_percpu', 'cpuacct.stat'],
  cpuset: ['cpuset.cpus', 'cpuset.mems'],
  devices: ['devices.allow', 'devices.deny', 'devices.list'],
  freezer: ['freezer.state'],
  blkio: ['blkio.weight', 'blkio.weight_device', 'blkio.leaf_weight', 'blkio.throttle.read_bps_device', 'blkio.throttle.write_bps_device',
    'blkio.throttle.read_iops_device', 'blkio.throttle.write_iops_device', 'blkio.throttle.io_service_bytes_recursive'],
  pids: ['pids.max', 'pids.current'],
  unified: ['cgroup.controllers', 'cgroup.subtree_control', 'cgroup.freeze', 'cgroup.events'],
};
const V2_FILES = ['cgroup.controllers', 'cgroup.subtree_control', 'cgroup.procs', 'cgroup.freeze', 'cgroup.events', 'cgroup.kill', 'memory.max',
  'memory.swap.max', 'memory.low', 'memory.high', 'memory.current', 'memory.events', 'memory.stat', 'cpu.weight', 'cpu.max', 'cpu.max.burst', 'cpu.idle', 'cpu.stat',
  'pids.max', 'pids.current', 'io.weight', 'io.max', 'io.stat', 'cpuset.cpus', 'cpuset.mems', 'hugetlb.2MB.max', 'hugetlb.2MB.current', 'rdma.max'];

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-unit-cgroups-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function touch(dir: string, files: string[]): void {
  for (const f of files) if (!fs.existsSync(path.join(dir, f))) fs.writeFileSync(path.join(dir, f), '');
}

/** A v1/hybrid tree like this project's hosts (cpu,cpuacct co-mounted, a named systemd tree). */
function fakeV1(root: string): CgroupFs {
  for (const [ctrl, files] of Object.entries(V1_FILES)) {
    const dir = path.join(root, ctrl === 'cpu' || ctrl === 'cpuacct' ? 'cpu,cpuacct' : ctrl);
    fs.mkdirSync(dir, { recursive: true });
    touch(dir, ['cgroup.procs', ...files]);
  }
  fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpu'));
  fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpuacct'));
  fs.mkdirSync(path.join(root, 'systemd'));
  touch(path.join(root, 'systemd'), ['cgroup.procs']);
  fs.writeFileSync(path.join(root, 'cpuset', 'cpuset.cpus'), '0-1');
  fs.writeFileSync(path.join(root, 'cpuset', 'cpuset.mems'), '0');
  fs.writeFileSync(path.join(root, 'unified', 'cgroup.controllers'), 'hugetlb');
  return {
    mkdir(dir) {
      fs.mkdirSync(dir);
      const top = path.relative(root, dir).split(path.sep)[0];
      const files = top === 'cpu,cpuacct' ? [...V1_FILES.cpu, ...V1_FILES.cpuacct] : V1_FILES[top] ?? [];
      touch(dir, ['cgroup.procs', ...files]);
      if (top === 'unified') fs.writeFileSync(path.join(dir, 'cgroup.controllers'), '');
    },
    rmdir: fakeRmdir,
  };
}

function fakeV2(root: string): CgroupFs {
  fs.mkdirSync(root, { recursive: true });
  touch(root, V2_FILES);
  fs.writeFileSync(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma');
  return {
    mkdir(dir) {
      fs.mkdirSync(dir);
      touch(dir, V2_FILES);
      // (the kernel derives it from the parent's subtree_control, live)
      fs.writeFileSync(path.join(dir, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma');
      fs.writeFileSync(path.join(dir, 'cpu.max'), 'max 100000');
    },
    rmdir: fakeRmdir,
  };
}

/** rmdir of a cgroup: its files go with it, sub-cgroups must be gone first. */
function fakeRmdir(dir: string): void {
  if (!fs.existsSync(dir)) throw Object.assign(new Error(`ENOENT ${dir}`), { code: 'ENOENT' });
  if (fs.readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory())) throw Object.assign(new Error(`ENOTEMPTY ${dir}`), { code: 'ENOTEMPTY' });
  fs.rmSync(dir, { recursive: true });
}

const read = (...p: string[]) => fs.readFileSync(path.join(...p), 'utf8');

t.test('layout: v1/hybrid (controllers, co-mounted dirs, unified) and v2', async (t) => {
  const v1root = path.join(tempDir(t), 'cg');
  fakeV1(v1root);
  const l1 = detectLayout(v1root);
  t.equal(l1.version, 1);
  t.equal(l1.unified, path.join(v1root, 'unified'));
  t.equal(l1.v1.cpu, path.join(v1root, 'cpu,cpuacct'));
  t.equal(l1.v1.cpuacct, path.join(v1root, 'cpu,cpuacct'));
  t.same(Object.keys(l1.v1).sort(), ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids', 'systemd']);
  t.equal(l1.v1.systemd, path.join(v1root, 'systemd'), 'the name=systemd hierarchy is joined too, as runc does');

  const v2root = path.join(tempDir(t), 'cg2');
  fakeV2(v2root);
  const l2 = detectLayout(v2root);
  t.same(l2, { root: v2root, version: 2, v1: {}, unified: v2root });
});

t.test('cgroupsPath: absolute, relative to our own cgroup, default, systemd form, no escape', async (t) => {
  const root = path.join(tempDir(t), 'cg');
  fakeV1(root);
  const layout = detectLayout(root);
  const own = parseProcCgroup('4:memory:/process_api/abc\n1:cpu,cpuacct:/\n0::/user\n9:name=systemd:/\n');
  t.equal(own.memory, '/process_api/abc');
  t.equal(own[''], '/user');
  t.equal(own.systemd, '/');

  const abs = resolveCgroup('c1', '/a/b/c1', layout, own);
  t.equal(abs.dirs.memory, path.join(root, 'memory/a/b/c1'));
  t.equal(abs.dirs.unified, path.join(root, 'unified/a/b/c1'));
  t.equal(abs.dirs.cpu, path.join(root, 'cpu,cpuacct/a/b/c1'));

  const rel = resolveCgroup('c1', 'x/c1', layout, own);
  t.equal(rel.dirs.memory, path.join(root, 'memory/process_api/abc/x/c1'), 'relative: below our own cgroup, per hierarchy');
  t.equal(rel.dirs.pids, path.join(root, 'pids/x/c1'));
  t.equal(rel.dirs.unified, path.join(root, 'unified/user/x/c1'));

  t.equal(resolveCgroup('c1', undefined, layout, own).dirs.memory, path.join(root, 'memory/c1'), 'default: /<id>');
  t.equal(resolveCgroup('c1', '../../../etc', layout, own).dirs.memory, path.join(root, 'memory/process_api/abc/etc'), '.. cannot climb out');
  t.throws(() => resolveCgroup('c1', 'system.slice:tsrun:c1', layout, own), /not supported without systemd/);
  t.throws(() => resolveCgroup('c1', '/', layout, own), /root cgroup/);

  const v2root = path.join(tempDir(t), 'cg2');
  fakeV2(v2root);
  t.same(resolveCgroup('c2', undefined, detectLayout(v2root), own), { version: 2, dirs: { unified: path.join(v2root, 'c2') }, created: [] });
});

t.test('v1: create, apply, freeze, pids, stats, destroy', async (t) => {
  const root = path.join(tempDir(t), 'cg');
  const cfs = fakeV1(root);
  fs.mkdirSync(path.join(root, 'memory', 'existing'));
  const record = resolveCgroup('c1', '/existing/deep/c1', detectLayout(root), {});
  const cg = new CgroupV1(record, cfs);
  cg.create();
  t.ok(record.created.includes(path.join(root, 'memory/existing/deep')));
  t.notOk(record.created.includes(path.join(root, 'memory/existing')), 'pre-existing parents are not ours');
  const d = (ctrl: string) => record.dirs[ctrl];
  t.equal(read(d('cpuset'), 'cpuset.cpus'), '0-1', 'cpuset seeded from the parent');
  t.equal(read(path.dirname(d('cpuset')), 'cpuset.mems'), '0', 'also the parents create made');

  fs.writeFileSync(path.join(d('memory'), 'memory.memsw.limit_in_bytes'), '9223372036854771712');
  cg.apply({
    memory: { limit: 8 << 20, swap: 16 << 20, reservation: 4 << 20, swappiness: 10, disableOOMKiller: true },
    cpu: { shares: 512, quota: 50000, period: 100000, burst: 1000, cpus: '0', mems: '0', idle: 1, realtimePeriod: 1000000, realtimeRuntime: 950000 },
    pids: { limit: 10 },
    blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 300 }], throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }] },
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }],
  });
  t.equal(read(d('memory'), 'memory.limit_in_bytes'), String(8 << 20));
  t.equal(read(d('memory'), 'memory.memsw.limit_in_bytes'), String(16 << 20));
  t.equal(read(d('memory'), 'memory.soft_limit_in_bytes'), String(4 << 20));
  t.equal(read(d('memory'), 'memory.swappiness'), '10');
  t.equal(read(d('memory'), 'memory.oom_control'), '1');
  t.equal(read(d('cpu'), 'cpu.shares'), '512');
  t.equal(read(d('cpu'), 'cpu.cfs_quota_us'), '50000');
  t.equal(read(d('cpu'), 'cpu.cfs_period_us'), '100000');
  t.equal(read(d('cpu'), 'cpu.cfs_burst_us'), '1000');
  t.equal(read(d('cpu'), 'cpu.rt_runtime_us'), '950000');
  t.equal(read(d('cpu'), 'cpu.idle'), '1');
  t.equal(read(d('cpuset'), 'cpuset.cpus'), '0');
  t.equal(read(d('pids'), 'pids.max'), '10');
  t.equal(read(d('blkio'), 'blkio.weight'), '500');
  t.equal(read(d('blkio'), 'blkio.weight_device'), '8:0 300');
  t.equal(read(d('blkio'), 'blkio.throttle.read_bps_device'), '8:0 1048576');
  // Each write replaces the fake file: the last device rule written is the last default.
  t.equal(read(d('devices'), 'devices.allow'), 'c 5:2 rwm');
  t.equal(read(d('devices'), 'devices.deny'), 'a');

  cg.apply({ pids: { limit: -1 } }, { update: true });
  t.equal(read(d('pids'), 'pids.max'), 'max');

  const field = (r: object, re: RegExp) => t.throws(() => cg.apply(r), re);
  field({ memory: { swappiness: 101 } }, /linux\.resources\.memory\.swappiness: invalid value 101/);
  field({ memory: { limit: 8 << 20, swap: 4 << 20 } }, /linux\.resources\.memory\.swap: .* below/);
  field({ cpu: { shares: 1 } }, /linux\.resources\.cpu\.shares/);
  field({ cpu: { quota: 10 } }, /linux\.resources\.cpu\.quota/);
  // no v1 hugetlb here: the unified tree's (v2 files), when it has the controller
  field({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }, /linux\.resources\.hugepageLimits\[0\]\.pageSize: page size "2MB" is not supported/);
  t.equal(read(root, 'unified', 'cgroup.subtree_control'), '+hugetlb', 'hugetlb enabled down the unified tree');
  fs.writeFileSync(path.join(d('unified'), 'hugetlb.2MB.max'), 'max');
  cg.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }] });
  t.equal(read(d('unified'), 'hugetlb.2MB.max'), '4194304');
  field({ rdma: { mlx5_0: { hcaHandles: 1 } } }, /linux\.resources\.rdma: .*no rdma/);
  field({ unified: { 'memory.high': '1' } }, /linux\.resources\.unified\.memory\.high: cgroup v2 keys are not supported/);
  field({ network: { classID: 1 } }, /linux\.resources\.network\.classID: .*net_cls/);
  field({ devices: [{ allow: true, access: 'rwx' }] }, /linux\.resources\.devices\[0\]\.access/);

  // checkBeforeUpdate: no limit below the current usage
  fs.writeFileSync(path.join(d('memory'), 'memory.usage_in_bytes'), String(20 << 20));
  t.throws(() => cg.apply({ memory: { limit: 10 << 20, checkBeforeUpdate: true } }, { update: true }), /below the current usage/);

  cg.freeze();
  t.equal(read(d('freezer'), 'freezer.state'), 'FROZEN');
  t.ok(cg.isFrozen());
  cg.thaw();
  t.notOk(cg.isFrozen());

  t.same(cg.procsFiles().sort(), [...new Set(Object.values(record.dirs))].map((x) => path.join(x, 'cgroup.procs')).sort());
  t.equal(cg.procsFiles().length, 9, 'cpu and cpuacct share one directory: 7 for the controllers, unified, name=systemd');
  fs.writeFileSync(path.join(d('pids'), 'cgroup.procs'), '');
  t.same(cg.pids(), []);

  fs.writeFileSync(path.join(d('memory'), 'memory.stat'), 'cache 4096\nrss 8192\ntotal_cache 4096\n');
  fs.writeFileSync(path.join(d('cpu'), 'cpuacct.usage'), '123456');
  fs.writeFileSync(path.join(d('pids'), 'pids.current'), '3');
  const s = cg.stats();
  t.equal(s.memory.usage.usage, 20 << 20);
  t.equal(s.memory.cache, 4096);
  t.equal(s.cpu.usage.total, 123456);
  t.same(s.pids, { current: 3, limit: undefined });

  fs.mkdirSync(path.join(d('memory'), 'sub')); // a cgroup the container made itself
  cg.destroy();
  for (const dir of Object.values(record.dirs)) t.notOk(fs.existsSync(dir), `${dir} removed`);
  t.notOk(fs.existsSync(path.join(root, 'memory/existing/deep')), 'parents create made are removed');
  t.ok(fs.existsSync(path.join(root, 'memory/existing')), 'a parent that was there stays');
});

t.test('v1: the name=systemd hierarchy is joined, or left out when the caller may not write there', async (t) => {
  const root = path.join(tempDir(t), 'cg');
  const cfs = fakeV1(root);
  const record = resolveCgroup('c1', undefined, detectLayout(root), {});
  new CgroupV1(record, cfs).create();
  t.ok(fs.existsSync(path.join(root, 'systemd', 'c1')), 'made in the named hierarchy');
  t.ok(record.dirs.systemd, 'and recorded (joined, then removed by delete)');

  const denying: CgroupFs = {
    ...cfs,
    mkdir(dir) {
      if (dir.startsWith(path.join(root, 'systemd'))) throw Object.assign(new Error(`EACCES: permission denied, mkdir '${dir}'`), { code: 'EACCES' });
      cfs.mkdir(dir);
    },
  };
  const other = resolveCgroup('c2', undefined, detectLayout(root), {});
  new CgroupV1(other, denying).create();
  t.notOk('systemd' in other.dirs, 'no permission there: left out, not joined');
  t.ok(fs.existsSync(path.join(root, 'memory', 'c2')), 'the controllers are made all the same');

  const failing: CgroupFs = { ...cfs, mkdir: () => { throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }); } };
  t.throws(() => new CgroupV1(resolveCgroup('c3', undefined, detectLayout(root), {}), failing).create(), /EACCES/, 'a controller the caller may not write is still an error');
});

t.test('v1: memory limit and memsw written in an order the kernel accepts', async (t) => {
  const root = path.join(tempDir(t), 'cg');
  const cfs = fakeV1(root);
  const record = resolveCgroup('c1', undefined, detectLayout(root), {});
  const cg = openCgroup(record, { fs: cfs });
  cg.create();
  const writes: string[] = [];
  const memdir = record.dirs.memory;
  // Watch the order through the files' mtimes is fragile: use a lower memsw than the new swap.
  fs.writeFileSync(path.join(memdir, 'memory.memsw.limit_in_bytes'), String(8 << 20));
  cg.apply({ memory: { limit: 16 << 20, swap: 32 << 20 } });
  writes.push(read(memdir, 'memory.limit_in_bytes'), read(memdir, 'memory.memsw.limit_in_bytes'));
  t.same(writes, [String(16 << 20), String(32 << 20)]);
  // without memsw (no swap accounting): swap equal to the limit or -1 is fine, more fails
  fs.rmSync(path.join(memdir, 'memory.memsw.limit_in_bytes'));
  cg.apply({ memory: { limit: 16 << 20, swap: -1 } });
  t.throws(() => cg.apply({ memory: { limit: 16 << 20, swap: 32 << 20 } }), /memory\.swap: not supported on this host: swap accounting is off/);
  cg.destroy();
});

t.test('v2: create enables controllers, apply converts, devices become a program', async (t) => {
  const root = path.join(tempDir(t), 'cg2');
  const cfs = fakeV2(root);
  const programs: Array<{ dir: string; insns: Buffer }> = [];
  const record = resolveCgroup('c2', '/pod/c2', detectLayout(root), {});
  const cg = openCgroup(record, { fs: cfs, loadDevices: (dir, insns) => programs.push({ dir, insns }) }) as CgroupV2;
  cg.create();
  t.equal(read(root, 'cgroup.subtree_control'), '+cpuset +cpu +io +memory +hugetlb +pids +rdma');
  t.equal(read(root, 'pod', 'cgroup.subtree_control'), '+cpuset +cpu +io +memory +hugetlb +pids +rdma', 'every level down to the parent');
  t.same(record.created, [path.join(root, 'pod'), path.join(root, 'pod/c2')]);
  const d = record.dirs.unified;
  cg.apply({
    memory: { limit: 32 << 20, swap: 64 << 20, reservation: 16 << 20 },
    cpu: { shares: 1024, quota: 50000, period: 100000, burst: 2000, cpus: '0-1', mems: '0', idle: 0 },
    pids: { limit: 20 },
    blockIO: { weight: 500, weightDevice: [{ major: 254, minor: 0, weight: 100 }], throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 100 }] },
    hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }],
    rdma: { mlx5_0: { hcaHandles: 3, hcaObjects: 100 } },
    unified: { 'memory.high': '30000000' },
  });
  t.equal(read(d, 'memory.max'), String(32 << 20));
  t.equal(read(d, 'memory.swap.max'), String(32 << 20), 'swap.max = OCI swap - limit');
  t.equal(read(d, 'memory.low'), String(16 << 20));
  t.equal(read(d, 'cpu.weight'), '39', '1024 shares -> weight 39 (runc)');
  t.equal(read(d, 'cpu.max'), '50000 100000');
  t.equal(read(d, 'cpu.max.burst'), '2000');
  t.equal(read(d, 'cpuset.cpus'), '0-1');
  t.equal(read(d, 'pids.max'), '20');
  t.equal(read(d, 'io.weight'), `254:0 ${blkioToIoWeight(100)}`, 'last write: the device weight');
  t.equal(read(d, 'io.max'), '254:0 wiops=100');
  t.equal(read(d, 'hugetlb.2MB.max'), '4194304');
  t.equal(read(d, 'rdma.max'), 'mlx5_0 hca_handle=3 hca_object=100');
  t.equal(read(d, 'memory.high'), '30000000');
  t.equal(programs.length, 1);
  t.equal(programs[0].dir, d);
  t.equal(programs[0].insns.length % 8, 0);

  cg.apply({ cpu: { quota: -1 } }, { update: true });
  t.equal(read(d, 'cpu.max'), 'max');
  cg.apply({ memory: { limit: -1, swap: -1 } }, { update: true });
  t.equal(read(d, 'memory.max'), 'max');
  t.equal(read(d, 'memory.swap.max'), 'max');
  t.equal(programs.length, 1, 'update leaves the device program alone');

  const field = (r: object, re: RegExp) => t.throws(() => cg.apply(r, { update: true }), re);
  field({ memory: { swap: 64 << 20 } }, /memory\.swap: a swap limit needs a memory limit/);
  field({ memory: { swappiness: 60 } }, /memory\.swappiness: not supported on cgroup v2/);
  field({ memory: { disableOOMKiller: true } }, /memory\.disableOOMKiller: not supported on cgroup v2/);
  field({ cpu: { realtimeRuntime: 1000 } }, /cpu\.realtimeRuntime: not supported on cgroup v2/);
  field({ unified: { 'memory.nope': '1' } }, /unified\.memory\.nope: no such cgroup file/);
  field({ unified: { '../cgroup.procs': '1' } }, /unified\.\.\.\/cgroup\.procs: invalid cgroup file name/);
  field({ hugepageLimits: [{ pageSize: '1GB', limit: 1 }] }, /hugepageLimits\[0\]\.pageSize: page size "1GB" is not supported/);
  field({ network: { classID: 3 } }, /network: net_cls\/net_prio do not exist on cgroup v2/);

  fs.writeFileSync(path.join(d, 'cgroup.events'), 'populated 1\nfrozen 1\n');
  cg.freeze();
  t.equal(read(d, 'cgroup.freeze'), '1');
  t.ok(cg.isFrozen());
  cg.thaw();
  t.equal(read(d, 'cgroup.freeze'), '0');
  t.notOk(cg.isFrozen());

  fs.writeFileSync(path.join(d, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n');
  fs.writeFileSync(path.join(d, 'memory.current'), '4096');
  fs.writeFileSync(path.join(d, 'memory.events'), 'low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n');
  fs.writeFileSync(path.join(d, 'io.stat'), '254:0 rbytes=512 wbytes=1024 rios=1 wios=2 dbytes=0 dios=0\n');
  const s = cg.stats();
  t.same(s.cpu.usage, { total: 1500000, kernel: 500000, user: 1000000 });
  t.same(s.cpu.throttling, { periods: 4, throttledPeriods: 1, throttledTime: 20000 });
  t.equal(s.memory.usage.usage, 4096);
  t.equal(s.memory.usage.failcnt, 2);
  t.same(s.blkio.ioServiceBytesRecursive, [{ major: 254, minor: 0, op: 'Read', value: 512 }, { major: 254, minor: 0, op: 'Write', value: 1024 }]);
  t.equal(cg.oomKills(), 1);

  const child = path.join(d, 'inner');
  cfs.mkdir(child);
  cg.destroy();
  t.notOk(fs.existsSync(path.join(root, 'pod')), 'leaf, its sub-cgroups and the parent create made are gone');
});

t.test('weights: runc conversions', async (t) => {
  t.equal(sharesToWeight(2), 1);
  t.equal(sharesToWeight(1024), 39);
  t.equal(sharesToWeight(262144), 10000);
  t.equal(sharesToWeight(0), 0);
  t.equal(blkioToIoWeight(10), 1);
  t.equal(blkioToIoWeight(1000), 10000);
  t.equal(blkioToIoWeight(500), 4950);
});

t.test('device rules: defaults appended, v1 writes, eBPF program agrees with the rules', async (t) => {
  const rules = deviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }]);
  t.equal(rules.length, 2 + DEFAULT_ALLOWED.length);
  const writes = v1DeviceWrites(rules);
  t.same(writes.slice(0, 3), [['devices.deny', 'a'], ['devices.allow', 'c 10:229 rw'], ['devices.allow', 'c *:* m']]);
  t.same(writes[writes.length - 1], ['devices.allow', 'c 5:2 rwm'], 'the default allow list comes last (runc\'s order)');
  t.notOk(allowedByRules(rules, 'c', 1, 11, 'w'), 'a device in neither list (kmsg) stays denied');
  t.same(v1DeviceWrites(deviceRules([{ allow: true, access: 'rwm' }])).slice(0, 1), [['devices.allow', 'a']], 'allow-all resets');

  const cases: Array<['c' | 'b', number, number]> = [['c', 1, 3], ['c', 10, 229], ['c', 10, 200], ['b', 8, 0], ['b', 8, 1], ['c', 136, 7], ['c', 4, 1]];
  const sets = [
    rules,
    deviceRules([{ allow: true, access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'w' }]),
    deviceRules(undefined),
    deviceRules([{ allow: true, type: 'a', access: 'rwm' }]).slice(0, 1), // a last unconditional rule
  ];
  for (const set of sets) {
    const prog = deviceProgram(set);
    t.equal(encodeProgram(prog).length, prog.length * 8);
    for (const [type, major, minor] of cases) {
      for (const access of ['r', 'w', 'm', 'rw', 'rwm']) {
        const want = allowedByRules(set, type, major, minor, access) ? 1 : 0;
        const got = runProgram(prog, type, major, minor, access);
        if (got !== want) t.fail(`${type} ${major}:${minor} ${access}: program ${got}, rules ${want}`);
      }
    }
  }
  t.equal(runProgram(deviceProgram(rules), 'c', 1, 3, 'rw'), 1, '/dev/null allowed');
  t.equal(runProgram(deviceProgram(rules), 'b', 8, 1, 'r'), 0, 'other disks denied');
  t.equal(runProgram(deviceProgram(rules), 'b', 8, 1, 'm'), 1, 'mknod of anything allowed (runc default)');
  t.equal(runProgram(deviceProgram(rules), 'c', 10, 229, 'rwm'), 0, 'm not granted to 10:229 ... except by the c *:* m default? no: rwm needs all three');
});

t.test('update and events arguments', async (t) => {
  t.equal(parseBytes('64m', 'memory'), 64 << 20);
  t.equal(parseBytes('1g', 'memory'), 1 << 30);
  t.equal(parseBytes('-1', 'memory'), -1);
  t.equal(parseBytes('1024', 'memory'), 1024);
  t.throws(() => parseBytes('lots', 'memory'), /--memory: invalid size/);
  t.equal(parseDuration('5s'), 5000);
  t.equal(parseDuration('100ms'), 100);
  t.equal(parseDuration('1m30s'), 90_000);
  t.throws(() => parseDuration('5'), /invalid duration/);
  t.same(dropZeros({ memory: { limit: 0, swap: 100 }, cpu: { shares: 0, cpus: '' }, pids: { limit: 0 } }), { memory: { swap: 100 } });
  t.same(mergeResources({ memory: { limit: 1, swap: 2 }, pids: { limit: 3 } }, { memory: { limit: 5 } }), { memory: { limit: 5, swap: 2 }, pids: { limit: 3 } });

  const base = { root: '/x', 'log-format': 'text' as const, debug: false, 'systemd-cgroup': false, rootless: 'auto', id: 'c' };
  t.same(resourcesFromArgs({ ...base, memory: '32m', 'memory-swap': '-1', 'pids-limit': 5, 'cpu-shares': 100, 'cpu-quota': 20000, 'cpu-period': 100000, 'cpuset-cpus': '0', 'cpuset-mems': '0' }), {
    memory: { limit: 32 << 20, swap: -1 },
    cpu: { shares: 100, quota: 20000, period: 100000, cpus: '0', mems: '0' },
    pids: { limit: 5 },
  });
  const docker = fs.readFileSync(path.join(__dirname, '../fixtures/engine-configs/docker-update-stdin.json'), 'utf8');
  const fromStdin = resourcesFromArgs({ ...base, resources: '-' }, () => docker);
  t.notOk(JSON.stringify(fromStdin).match(/:0[,}]/), 'no zero left from the Docker update JSON');
  t.throws(() => resourcesFromArgs({ ...base, resources: '-' }, () => '{nope'), /--resources standard input: invalid JSON/);
  t.throws(() => resourcesFromArgs({ ...base, resources: '/nonexistent/r.json' }), /no such file or directory/);
});

t.test('a recorded cgroup reopens with the same driver', async (t) => {
  const rec: CgroupRecord = { version: 2, dirs: { unified: '/nonexistent/x' }, created: [] };
  t.equal(openCgroup(rec).version, 2);
  t.notOk(openCgroup(rec).isFrozen());
  t.equal(openCgroup({ version: 1, dirs: {}, created: [] }).version, 1);
});

t.test('state: a live container whose cgroup is frozen is paused', async (t) => {
  const { statusOf } = await import('../../src/container/state');
  const { startTime: processStartTime } = await import('../../src/procfs');
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'freezer.state'), 'FROZEN');
  const record = {
    ociVersion: '1.2.0', id: 'p', pid: process.pid, bundle: '/b', rootfs: '/r', created: '', owner: 'root',
    initStartTime: processStartTime(process.pid) ?? '', config: { ociVersion: '1.2.0' },
    cgroup: { version: 1 as const, dirs: { freezer: dir }, created: [] },
  };
  t.equal(statusOf({ id: 'p', dir, record }), 'paused');
  fs.writeFileSync(path.join(dir, 'freezer.state'), 'THAWED');
  t.equal(statusOf({ id: 'p', dir, record }), 'running', 'thawed, no exec.fifo');
  t.equal(statusOf({ id: 'p', dir, record: { ...record, pid: 0 } }), 'stopped', 'a gone init is stopped, frozen or not');
});
