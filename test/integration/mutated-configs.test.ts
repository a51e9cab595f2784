// Fuzz-style: 600 deterministic mutations of a valid config.json (seeded PRNG: deleted keys,
// wrong types, huge and negative numbers, NUL bytes, very long strings, wrong enums, deep
// nesting, bad namespaces, mounts, rlimits, capabilities, seccomp, devices, hooks, cgroup
// paths...). For each: `create` (then `start` and `delete --force` if it was created) must
// end within seconds with status 0 or 1; a failure is exactly one line `tsrun: ...` with no
// JavaScript error in it, and the same message is the last --log JSON line; afterwards
// nothing is left (state dir, cgroup dirs, mounts, processes).
// TSRUN_FUZZ_SEED=N picks other mutations; TSRUN_FUZZ_COUNT=N runs fewer or more.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultConfig } from '../helpers/bundle';
import { fdHolders, lastLine, rootSuite, tempDir, tsrunAsync } from '../helpers/container';
import { copyRootfs } from '../helpers/rootfs';
import { residue, TsrunResult } from '../helpers/tsrun';

const topRoot = rootSuite();
const work = tempDir('tsrun-mutated-');
t.teardown(work.remove);

const SEED = Number(process.env.TSRUN_FUZZ_SEED ?? 20261203);
const COUNT = Number(process.env.TSRUN_FUZZ_COUNT ?? 600);
/** Each command must end well within this (a hang is killed at KILL_MS). */
const LIMIT_MS = 10_000;
const KILL_MS = 30_000;
/** In every id, cgroup path and escape probe: residue() finds whatever a case left by it. */
const TOKEN = `mut-${process.pid}`;
// One private rootfs for all cases: fast, and mutated mount destinations never touch the
// rootfs other tests share.
const rootfs = copyRootfs(undefined, path.join(work.dir, 'rootfs'));
const root = fs.mkdtempSync(path.join(topRoot, 'mut-'));

/** mulberry32: small, seeded, the same sequence everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** The base: the test bundle's config with the optional sections mutations should reach. */
function baseConfig(): Obj {
  const c = defaultConfig(['true'], rootfs) as unknown as Obj & { linux: Obj; process: Obj };
  c.linux.resources = {
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }],
    memory: { limit: 64 * 1024 * 1024 },
    pids: { limit: 64 },
    cpu: { shares: 512 },
  };
  c.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] }],
  };
  c.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }];
  c.linux.sysctl = { 'net.ipv4.ip_forward': '0' };
  c.hooks = { prestart: [{ path: '/bin/true', args: ['true'] }], poststop: [{ path: '/bin/true', timeout: 5 }] };
  c.annotations = { 'org.example.key': 'value' };
  (c.process as Obj).user = { uid: 0, gid: 0, additionalGids: [1, 2], umask: 18 };
  (c.process as Obj).oomScoreAdj = 100;
  return JSON.parse(JSON.stringify(c)) as Obj;
}

type Path = (string | number)[];

function allPaths(v: Json, at: Path = [], out: Path[] = []): Path[] {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([...at, i]), allPaths(x, [...at, i], out)));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) out.push([...at, k]), allPaths(v[k], [...at, k], out);
  return out;
}

function get(doc: Json, p: Path): Json {
  return p.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k], doc);
}

function setAt(doc: Json, p: Path, value: Json | undefined): void {
  const parent = get(doc, p.slice(0, -1)) as Record<string | number, Json>;
  const key = p[p.length - 1];
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else parent[key] = value;
}

/** Deep nesting is spliced into the text (JSON.stringify would recurse that deep). */
const deepMarkers = new Map<string, number>();

function mutator(rand: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const int = (n: number) => Math.floor(rand() * n);
  const WRONG = [null, true, false, 0, -1, 1.5, '', 'x', [], {}, [1, 'a', null], { a: 1 }] as Json[];
  const HUGE = [2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, 1e308, -(2 ** 63), 4294967295, 4294967296, -2147483649, 1e-300, 0.5, -0];
  const WEIRD = [
    '..', '../../..', '/', '.', ' ', '\n', 'a\nb', '/proc/self/root', '/dev/zero', 'a:b:c', '%s%n%x', '${PATH}', '\u202e', '\uffff',
    'x'.repeat(256), `/${'a/'.repeat(3000)}`, '-1', '0x10', '1e3', 'null', '"', '\\', 'é', '*', `/../../../../tmp/${TOKEN}-escape`,
  ];
  const CAPS = ['CAP_BOGUS', 'cap_kill', 'KILL', '', 'CAP_SYS_ADMIN ', 'CAP_LAST_CAP', 'CAP_64'];
  const str = (): string => {
    switch (int(5)) {
      case 0: return `a\u0000b`;
      case 1: return 'A'.repeat(pick([300, 5000, 100_000, 1_000_000]));
      case 2: return `BOGUS_${int(100)}`;
      default: return pick(WEIRD);
    }
  };
  const generic: Array<[string, (doc: Obj, p: Path) => void]> = [
    ['delete', (doc, p) => setAt(doc, p, undefined)],
    ['wrong type', (doc, p) => setAt(doc, p, JSON.parse(JSON.stringify(pick(WRONG))))],
    ['huge number', (doc, p) => setAt(doc, p, pick(HUGE))],
    ['negative', (doc, p) => setAt(doc, p, -1 - int(5000))],
    ['NUL byte', (doc, p) => {
      const v = get(doc, p);
      setAt(doc, p, typeof v === 'string' ? `${v.slice(0, v.length >> 1)}\u0000${v.slice(v.length >> 1)}` : 'a\u0000b');
    }],
    ['long string', (doc, p) => setAt(doc, p, 'A'.repeat(pick([300, 5000, 100_000, 1_000_000])))],
    ['wrong enum', (doc, p) => {
      const v = get(doc, p);
      setAt(doc, p, typeof v === 'string' ? pick([v.toLowerCase(), `${v} `, `${v}X`, v.toUpperCase() + '_BOGUS']) : `BOGUS_${int(100)}`);
    }],
    ['deep nesting', (doc, p) => {
      const marker = `\u0001deep${deepMarkers.size}\u0001`;
      deepMarkers.set(marker, pick([64, 1000, 10_000, 200_000]));
      setAt(doc, p, marker);
    }],
    ['weird string', (doc, p) => setAt(doc, p, pick(WEIRD))],
    ['duplicate entry', (doc, p) => {
      const parent = get(doc, p.slice(0, -1));
      const v = get(doc, p);
      if (Array.isArray(parent)) parent.push(JSON.parse(JSON.stringify(v)));
      else if (Array.isArray(v) && v.length > 0) v.push(JSON.parse(JSON.stringify(v[0])));
      else setAt(doc, p, [v, v]);
    }],
    ['empty', (doc, p) => setAt(doc, p, Array.isArray(get(doc, p)) ? [] : {})],
  ];
  // An earlier mutation may have replaced a section by anything: start it afresh then.
  const obj = (o: Obj, k: string): Obj => {
    const v = o[k];
    return v && typeof v === 'object' && !Array.isArray(v) ? v : (o[k] = {});
  };
  const list = (o: Obj, k: string) => ((Array.isArray(o[k]) ? o[k] : (o[k] = [])) as Json[]);
  const linux = (doc: Obj) => obj(doc, 'linux');
  const proc = (doc: Obj) => obj(doc, 'process');
  const domain: Array<[string, (doc: Obj) => void]> = [
    ['unknown namespace', (doc) => list(linux(doc), 'namespaces').push({ type: pick(['bogus', 'PID', 'net', '', 'user ']) })],
    ['namespace path', (doc) => list(linux(doc), 'namespaces').push({
      type: pick(['network', 'ipc', 'uts', 'mount', 'pid', 'cgroup', 'time', 'user']),
      path: pick(['/dev/null', '/proc/self/ns/uts', '/nonexistent', 'relative', '/proc/self/ns/net', `/tmp/${TOKEN}`, '/', '/proc/self/ns']),
    })],
    ['bad mount', (doc) => list(doc, 'mounts').push(pick<Json>([
      { destination: 'relative', type: 'tmpfs', source: 'tmpfs' },
      { destination: `/../../../../tmp/${TOKEN}-escape`, type: 'tmpfs', source: 'tmpfs' },
      { destination: '/mnt', type: 'bind', source: `/nonexistent/${TOKEN}`, options: ['rbind'] },
      { destination: '/mnt', type: 'bind', source: '/dev/zero', options: ['bind'] },
      { destination: '/mnt', type: 'bogusfs', source: 'none' },
      { destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['size=-1', 'mode=99999', 'bogus=1'] },
      { destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['ro,rw', '', 'rbind', 'idmap'] },
      { destination: '/', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/proc', type: 'bind', source: '/proc', options: ['rbind'] },
      { destination: '/mnt', type: 'proc', source: 'proc', options: ['hidepid=99'] },
      { destination: '/bin/busybox', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/mnt\u0000x', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/mnt', type: 'bind', source: '/etc/hostname', options: ['bind', 'ridmap'], uidMappings: [], gidMappings: [] },
      { destination: '/mnt' },
    ]))],
    ['bad rlimit', (doc) => list(proc(doc), 'rlimits').push(pick<Json>([
      { type: 'RLIMIT_BOGUS', soft: 1, hard: 1 },
      { type: 'RLIMIT_NOFILE', soft: 2 ** 64, hard: 2 ** 64 },
      { type: 'RLIMIT_CORE', soft: 10, hard: 1 },
      { type: 'RLIMIT_NPROC', soft: -1, hard: -1 },
      { type: 'RLIMIT_STACK', soft: 0, hard: 0 },
      { type: 'rlimit_nofile', soft: 1, hard: 1 },
      { type: 'RLIMIT_AS', soft: 1024, hard: 1024 },
    ]))],
    ['bad capability', (doc) => {
      const caps = obj(proc(doc), 'capabilities');
      list(caps, pick(['bounding', 'effective', 'permitted', 'inheritable', 'ambient'])).push(pick(CAPS));
    }],
    ['bad seccomp', (doc) => {
      linux(doc).seccomp = pick<Json>([
        { defaultAction: 'SCMP_ACT_BOGUS' },
        { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_BOGUS'] },
        { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['no_such_syscall'], action: 'SCMP_ACT_ERRNO' }] },
        { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: 2 ** 40 }] },
        { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 9, value: 1, op: 'SCMP_CMP_EQ' }] }] },
        { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_BOGUS'] },
        { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: `/nonexistent/${TOKEN}.sock` },
        { defaultAction: 'SCMP_ACT_TRACE' },
        { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['write'], action: 'SCMP_ACT_KILL_THREAD' }] },
        { defaultAction: 'SCMP_ACT_ALLOW', syscalls: Array.from({ length: 2000 }, (_, i) => ({ names: [`sys${i}`], action: 'SCMP_ACT_ERRNO' })) },
      ]);
    }],
    ['bad device', (doc) => list(linux(doc), 'devices').push(pick<Json>([
      { path: 'dev/x', type: 'c', major: 1, minor: 3 },
      { path: '/dev/x', type: 'c', major: 2 ** 40, minor: 3 },
      { path: '/dev/x', type: 'c', major: -1, minor: -1 },
      { path: '/dev/../../x', type: 'c', major: 1, minor: 3 },
      { path: '/dev/null', type: 'b', major: 1, minor: 3, fileMode: 2 ** 40 },
      { path: '/dev/x', type: 'p' },
      { path: '/dev/x', type: 'c', major: 1, minor: 3, uid: -5 },
    ]))],
    ['bad device rule', (doc) => list(obj(linux(doc), 'resources'), 'devices').push(pick<Json>([
      { allow: true, type: 'x', access: 'rwm' },
      { allow: true, type: 'c', major: -2, minor: 2 ** 40, access: 'rwm' },
      { allow: true, access: 'rwxq' },
      { allow: 'yes' },
    ]))],
    ['bad resources', (doc) => {
      linux(doc).resources = pick<Json>([
        { memory: { limit: -5 } },
        { memory: { limit: 1 } },
        { memory: { limit: 2 ** 63 } },
        { memory: { limit: 100 * 1024 * 1024, swap: 10 } },
        { cpu: { shares: 2 ** 40, quota: -7, period: 0 } },
        { cpu: { cpus: 'abc', mems: '99999' } },
        { pids: { limit: 0 } },
        { pids: { limit: -2 } },
        { unified: { '../../x': '1' } },
        { unified: { 'cgroup.procs': '1' } },
        { unified: { 'memory.max': 'bogus' } },
        { hugepageLimits: [{ pageSize: '3MB', limit: 1 }] },
        { blockIO: { weight: 1, weightDevice: [{ major: 2 ** 40, minor: 0, weight: 10 }] } },
        { network: { classID: 2 ** 33 } },
        { rdma: { bogus: { hcaHandles: 1 } } },
      ]);
    }],
    ['bad hook', (doc) => {
      const hooks = obj(doc, 'hooks');
      list(hooks, pick(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'])).push(pick<Json>([
        { path: 'relative' },
        { path: `/nonexistent/${TOKEN}` },
        { path: '/bin/false' },
        { path: '/bin/sleep', args: ['sleep', '100'], timeout: 1 },
        { path: '/bin/true', timeout: -1 },
        { path: '/bin/true', timeout: 0 },
        { path: '/bin/true', env: ['NOEQUALS', 'A\u0000=b'] },
        { path: '/dev/null' },
      ]));
    }],
    ['bad sysctl', (doc) => {
      const sysctl = obj(linux(doc), 'sysctl');
      sysctl[pick(['kernel.panic', 'net.bogus.x', '../../x', 'net.ipv4.ip_forward', 'net.ipv4/../x', 'net.'])] = pick(['1', 'x', '', 'a\u0000b']);
    }],
    ['bad id mappings', (doc) => {
      list(linux(doc), 'namespaces').push({ type: 'user' });
      linux(doc).uidMappings = pick<Json>([[], [{ containerID: 0, hostID: 0, size: 2 ** 40 }], [{ containerID: -1, hostID: 1, size: 1 }], [{ containerID: 0, hostID: 100000, size: 0 }]]);
      linux(doc).gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    }],
    ['bad user', (doc) => {
      proc(doc).user = pick<Json>([
        { uid: 2 ** 32, gid: 0 }, { uid: -1, gid: -1 }, { uid: 0, gid: 0, additionalGids: [2 ** 32] },
        { uid: 0, gid: 0, umask: 2 ** 33 }, { uid: 0, gid: 0, username: 'nobody' }, { uid: 65534, gid: 65534 },
      ]);
    }],
    ['cgroupsPath', (doc) => {
      linux(doc).cgroupsPath = pick([
        `/${TOKEN}/a\u0000b`, `/${TOKEN}/${'a'.repeat(100_000)}`, `/${TOKEN}/cgroup.procs`, `/${TOKEN}/tasks`, `/${TOKEN}/memory.max`,
        `${TOKEN}/../../..`, `/${TOKEN}/${'b'.repeat(300)}`, `system.slice:${TOKEN}:x`, `/${TOKEN}/..`, `/${TOKEN}/a\nb`, `/${TOKEN}/ok`,
      ]);
    }],
    ['bad root', (doc) => {
      doc.root = pick<Json>([
        { path: '' }, { path: 'relative' }, { path: `/nonexistent/${TOKEN}` }, { path: '/dev/null' },
        { path: path.join(rootfs, 'bin', 'busybox') }, { path: rootfs, readonly: 'yes' }, { path: `${rootfs}\u0000x` },
      ]);
    }],
    ['bad process', (doc) => {
      const p = proc(doc);
      const [k, v] = pick<[string, Json]>([
        ['args', ['a\u0000b']], ['args', ['/nonexistent']], ['args', []], ['args', ['']], ['cwd', 'relative'], ['cwd', `/${'c'.repeat(5000)}`],
        ['env', ['=x', 'A', `B=${'x'.repeat(100_000)}`]], ['terminal', true], ['consoleSize', { height: -1, width: 2 ** 40 }],
        ['oomScoreAdj', 99999], ['noNewPrivileges', 'true'], ['apparmorProfile', 'bogus'], ['selinuxLabel', 'x:y:z'],
        ['scheduler', { policy: 'SCHED_BOGUS' }], ['ioPriority', { class: 'IOPRIO_CLASS_RT', priority: 99 }], ['execCPUAffinity', { initial: 'x-y' }],
      ]);
      p[k] = v;
    }],
    ['bad linux field', (doc) => {
      const [k, v] = pick<[string, Json]>([
        ['rootfsPropagation', pick(['shared', 'bogus', 'rslave', 'unbindable'])], ['maskedPaths', ['/proc/../etc/passwd', 'relative', '/nonexistent']],
        ['readonlyPaths', ['/', '/proc/self/root/etc']], ['mountLabel', 'x'], ['personality', { domain: 'LINUX32', flags: ['BOGUS'] }],
        ['timeOffsets', { monotonic: { secs: 2 ** 62, nanosecs: -1 } }], ['intelRdt', { closID: '../x' }], ['memoryPolicy', { mode: 'BOGUS' }],
      ]);
      linux(doc)[k] = v;
    }],
    ['bad hostname', (doc) => (doc.hostname = pick(['h'.repeat(65), 'a\u0000b', '', 'x'.repeat(100_000)]))],
    ['bad ociVersion', (doc) => (doc.ociVersion = pick(['2.0.0', 'bogus', '', '1.0.2-rc1']))],
    ['unknown keys', (doc) => {
      doc[`x-${int(100)}`] = { nested: [1, 2, 3] };
      linux(doc).bogusSection = true;
    }],
  ];
  return (doc: Obj): string[] => {
    const done: string[] = [];
    const n = 1 + int(3);
    for (let i = 0; i < n; i++) {
      if (rand() < 0.5) {
        const [name, op] = pick(domain);
        op(doc);
        done.push(name);
      } else {
        const paths = allPaths(doc);
        const p = pick(paths);
        const [name, op] = pick(generic);
        try {
          get(doc, p);
        } catch {
          continue; // an earlier mutation removed its parent
        }
        op(doc, p);
        done.push(`${name} at /${p.join('/')}`);
      }
    }
    return done;
  };
}

/** The config text: markers replaced by deep nesting. */
function configText(doc: Obj): string {
  return JSON.stringify(doc).replace(/"\\u0001deep\d+\\u0001"/g, (quoted) => {
    const depth = deepMarkers.get(JSON.parse(quoted) as string) ?? 1;
    return '['.repeat(depth) + ']'.repeat(depth);
  });
}

const JS_ERROR = /TypeError|RangeError|SyntaxError|ReferenceError|Maximum call stack|Cannot read propert|Cannot set propert|is not a function|is not iterable|\bundefined\b|\[object Object\]|\bNaN\b|\bat .*\(.*:\d+:\d+\)|node:internal/;

function describe(r: TsrunResult): string {
  return `status ${r.status}${r.signal ? ` signal ${r.signal}` : ''}: ${JSON.stringify(r.stderr.slice(0, 400))}`;
}

interface Outcome {
  ms: number;
  r: TsrunResult;
}

async function timed(args: string[], log: string): Promise<Outcome> {
  const started = Date.now();
  const r = await tsrunAsync(args, { root, globalArgs: ['--log', log, '--log-format', 'json'], timeout: KILL_MS }).done;
  return { ms: Date.now() - started, r };
}

/** Status 0 or 1 in time; on 1 one `tsrun: ` line that is the last --log line; no JavaScript error. */
function checkOutcome(t: Test, what: string, { ms, r }: Outcome, log: string): void {
  t.ok(ms < LIMIT_MS, `${what}: ended in ${ms} ms`);
  t.ok(r.status === 0 || r.status === 1, `${what}: exit status 0 or 1 (${describe(r)})`);
  t.notMatch(r.stderr, JS_ERROR, `${what}: no JavaScript error (${describe(r)})`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  if (r.status === 1) {
    t.equal(lines.length, 1, `${what}: one line on stderr (${describe(r)})`);
    t.match(lines[0] ?? '', /^tsrun: /, `${what}: the line starts with "tsrun: "`);
    let entry: { level?: string; msg?: string } = {};
    try {
      entry = JSON.parse(lastLine(log)) as typeof entry;
    } catch {
      /* checked below */
    }
    t.equal(`tsrun: ${entry.msg}`, lines[0], `${what}: the last --log line carries the message`);
  } else {
    for (const l of lines) t.match(l, /^tsrun: warning: /, `${what}: only warnings on stderr`);
  }
}

const rand = prng(SEED);
const mutate = mutator(rand);
const mutations = Array.from({ length: COUNT }, (_, i) => {
  const doc = baseConfig();
  const ops = mutate(doc);
  return { i, ops, text: configText(doc) };
});

t.test('the unmutated config creates, starts and deletes cleanly', async (t) => {
  const dir = path.join(work.dir, 'base');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), configText(baseConfig()));
  const log = path.join(work.dir, 'base.log');
  const id = `${TOKEN}-base`;
  for (const args of [['create', '--bundle', dir, id], ['start', id], ['delete', '--force', id]]) {
    const { r } = await timed(args, log);
    t.equal(r.status, 0, `${args[0]}: ${describe(r)}`);
  }
  t.same(residue(id, root, { rootfs }), [], 'no residue');
});

t.test(`${COUNT} mutated configs (seed ${SEED})`, { jobs: 3 }, async (t) => {
  const started = Date.now();
  for (const m of mutations) {
    t.test(`#${m.i}: ${m.ops.join('; ')}`.slice(0, 200), async (t) => {
      const id = `${TOKEN}-${m.i}-c`; // "-c": no id is a prefix of another
      const dir = path.join(work.dir, `b${m.i}`);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'config.json'), m.text);
      const log = path.join(dir, 'log');
      const created = await timed(['create', '--bundle', dir, id], log);
      checkOutcome(t, 'create', created, log);
      if (created.r.status === 0) {
        checkOutcome(t, 'start', await timed(['start', id], log), log);
        const deleted = await timed(['delete', '--force', id], log);
        checkOutcome(t, 'delete --force', deleted, log);
        t.equal(deleted.r.status, 0, 'delete --force succeeds');
      }
      t.notOk(fs.existsSync(path.join(root, id)), 'no state dir left');
      t.same(residue(id, root), [], 'nothing left named by the id (cgroups, processes, mounts)');
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }
  t.teardown(() => t.comment(`${COUNT} configs in ${Math.round((Date.now() - started) / 1000)} s`));
});

t.test('nothing left behind by any case', async (t) => {
  t.same(residue(TOKEN, root, { rootfs }), [], 'no cgroup, mount or process named by the token or using the rootfs');
  t.same(fs.readdirSync(root), [], 'no state left under --root');
  t.notOk(fs.existsSync(`/tmp/${TOKEN}-escape`), 'no mount destination escaped the rootfs');
  t.same(fdHolders([rootfs]), [], 'no process holds the rootfs');
});
