// All six hooks in real containers (root): their order, the state each one gets on stdin,
// the namespaces they run in, timeouts, and what a failure does at each point.
// Build first (`npm run build`).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BundleConfig } from '../helpers/bundle';
import { makeBundle } from '../helpers/bundle';
import { readOr, removeEmptyCgroupParent, rootSuite, runIn, tempDir } from '../helpers/container';
import { forceDelete, residue, tsrun, uniqueId } from '../helpers/tsrun';
import type { Hook } from '../../src/spec/types';

const root = rootSuite();
const work = tempDir('tsrun-hooks-');
t.teardown(() => work.remove());
// The parent of the containers' cgroupsPath below: left when another container was still in it.
t.teardown(() => removeEmptyCgroupParent('tsrun-test'));

/** Host-side hook: appends "<name> <hostname> <mount marker> <state JSON>" to the log. */
const hostHook = path.join(work.dir, 'hook.sh');
fs.writeFileSync(hostHook, `#!/bin/sh
name=$1; log=$2; marker=$3
state=$(cat)
if grep -q "$marker " /proc/self/mountinfo; then m=container-mounts; else m=host-mounts; fi
echo "$name $(hostname) $m $state" >> "$log"
exit \${4:-0}
`, { mode: 0o755 });

type T = tap.Test;

interface Setup {
  dir: string;
  log: string;
  hostname: string;
}

function newSetup(): Setup {
  const dir = fs.mkdtempSync(path.join(work.dir, 'c-'));
  return { dir, log: path.join(dir, 'log'), hostname: `hooks-${path.basename(dir).slice(2)}`.toLowerCase() };
}

/** Hooks for every point; startContainer runs inside the container (its path resolves there). */
function hooksConfig(s: Setup, fail: Partial<Record<string, number>> = {}, marker = '/hooks-marker'): (c: BundleConfig) => void {
  return (c) => {
    c.hostname = s.hostname;
    // The log directory, also visible inside the container for startContainer.
    c.mounts.push({ destination: '/hooklog', type: 'bind', source: s.dir, options: ['rbind', 'rw'] });
    c.mounts.push({ destination: marker, type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
    const host = (name: string): Hook => ({ path: hostHook, args: ['hook.sh', name, s.log, marker, String(fail[name] ?? 0)] });
    c.hooks = {
      prestart: [host('prestart')],
      createRuntime: [host('createRuntime')],
      createContainer: [host('createContainer')],
      startContainer: [{
        path: '/bin/sh',
        args: ['sh', '-c', `state=$(cat); if grep -q " ${marker} " /proc/self/mountinfo; then m=container-mounts; else m=host-mounts; fi; echo "startContainer $(hostname) $m $state" >> /hooklog/log; exit ${fail.startContainer ?? 0}`],
      }],
      poststart: [host('poststart')],
      poststop: [host('poststop')],
    };
  };
}

interface Entry {
  name: string;
  hostname: string;
  mounts: string;
  state: { status: string; pid: number; id: string; bundle: string };
}

function readLog(file: string): Entry[] {
  return readOr(file).split('\n').filter(Boolean).map((line) => {
    const [name, hostname, mounts, ...rest] = line.split(' ');
    return { name, hostname, mounts, state: rest.length ? JSON.parse(rest.join(' ')) : {} };
  });
}

t.test('order, state and namespaces of all six hooks', async (t) => {
  const s = newSetup();
  // The process lives until poststart has run (polled, 10 s at most): poststart sees it running.
  const untilPoststart = 'echo process >> /hooklog/log; i=0; until grep -q ^poststart /hooklog/log || [ $i -ge 1000 ]; do sleep 0.01; i=$((i+1)); done';
  const r = runIn({ root, args: ['sh', '-c', untilPoststart], mutate: hooksConfig(s) });
  t.equal(r.status, 0, r.stderr);
  t.same(r.residue, []);
  const log = readOr(s.log).split('\n').filter(Boolean);
  const entries = readLog(s.log).filter((e) => e.name !== 'process');
  const names = log.map((l) => l.split(' ')[0]);
  // poststart runs in `start` once the process has been executed: before or after it writes.
  t.same(names.filter((n) => n !== 'poststart'), ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'process', 'poststop']);
  t.ok(names.indexOf('poststart') > names.indexOf('startContainer'), 'poststart after startContainer');
  const by = Object.fromEntries(entries.map((e) => [e.name, e]));
  const hostName = os.hostname();
  for (const n of ['prestart', 'createRuntime']) {
    t.equal(by[n].state.status, 'creating', `${n}: status creating`);
    t.ok(by[n].state.pid > 1, `${n}: the init's host pid`);
    t.equal(by[n].hostname, hostName, `${n}: runs in the runtime's uts namespace`);
    t.equal(by[n].mounts, 'host-mounts', `${n}: runs in the runtime's mount namespace`);
  }
  t.equal(by.createContainer.state.status, 'creating', 'createContainer: status creating');
  t.equal(by.createContainer.state.pid, 1, 'createContainer: pid as the container sees it (runc)');
  t.equal(by.createContainer.hostname, s.hostname, 'createContainer: the container\'s hostname');
  t.equal(by.createContainer.mounts, 'container-mounts', 'createContainer: sees the container\'s mounts');
  t.equal(by.startContainer.state.status, 'created', 'startContainer: status created');
  t.equal(by.startContainer.state.pid, 1);
  t.equal(by.startContainer.hostname, s.hostname);
  t.equal(by.startContainer.mounts, 'container-mounts');
  t.equal(by.poststart.state.status, 'running', 'poststart: running');
  t.equal(by.poststart.state.pid, by.prestart.state.pid, 'poststart: the same host pid');
  t.equal(by.poststart.hostname, hostName);
  t.equal(by.poststop.state.status, 'stopped');
  t.equal(by.poststop.state.pid, 0);
  for (const e of entries) t.match(e.state, { id: r.id, bundle: r.bundle.dir }, `${e.name}: id and bundle`);
});

t.test('prestart and createRuntime see the init in the container\'s cgroups (runc joins before the hooks)', async (t) => {
  const s = newSetup();
  const hook = path.join(s.dir, 'cgroup-hook.sh');
  fs.writeFileSync(hook, `#!/bin/sh
pid=$(sed 's/.*"pid":\\([0-9]*\\).*/\\1/')
cp /proc/$pid/cgroup "$1"
`, { mode: 0o755 });
  const id = uniqueId('hookcg');
  const bundle = makeBundle({
    args: ['true'],
    mutate: (c) => {
      c.linux.cgroupsPath = `/tsrun-test/${id}`;
      c.hooks = {
        prestart: [{ path: hook, args: ['cgroup-hook.sh', path.join(s.dir, 'prestart')] }],
        createRuntime: [{ path: hook, args: ['cgroup-hook.sh', path.join(s.dir, 'createRuntime')] }],
      };
    },
  });
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  const r = tsrun(['create', '--bundle', bundle.dir, id], { root });
  t.equal(r.status, 0, r.stderr);
  const pid = Number(JSON.parse(tsrun(['state', id], { root }).stdout).pid);
  const container = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  t.match(container, `/tsrun-test/${id}`, 'the created container is in its cgroup');
  for (const point of ['prestart', 'createRuntime']) t.equal(readOr(path.join(s.dir, point)), container, `${point}: /proc/<pid>/cgroup is the container's`);
});

t.test('host hooks run in the bundle directory during create, start and run; delete\'s poststop in the caller\'s (as runc)', async (t) => {
  const s = newSetup();
  const hook = path.join(s.dir, 'cwd-hook.sh');
  fs.writeFileSync(hook, `#!/bin/sh\necho "$1 $(pwd)" >> ${s.log}\n`, { mode: 0o755 });
  const mutate = (c: BundleConfig) => {
    c.hooks = Object.fromEntries(['prestart', 'createRuntime', 'poststart', 'poststop'].map((n) => [n, [{ path: hook, args: ['cwd-hook.sh', n] }]]));
  };
  const caller = fs.mkdtempSync(path.join(work.dir, 'caller-'));
  const expected = (bundle: string, deleteCwd: string) => [`prestart ${bundle}`, `createRuntime ${bundle}`, `poststart ${bundle}`, `poststop ${deleteCwd}`];
  // run: everything in the bundle.
  const r = runIn({ root, args: ['true'], mutate, tsrunOptions: { cwd: caller } });
  t.equal(r.status, 0, r.stderr);
  t.same(readOr(s.log).split('\n').filter(Boolean), expected(r.bundle.dir, r.bundle.dir), 'run');
  fs.rmSync(s.log, { force: true });
  // create, start, delete by hand from another directory.
  const id = uniqueId('hookcwd');
  const bundle = makeBundle({ args: ['true'], mutate });
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  t.equal(tsrun(['create', '--bundle', bundle.dir, id], { root, cwd: caller }).status, 0);
  t.equal(tsrun(['start', id], { root, cwd: caller }).status, 0);
  t.equal(tsrun(['delete', '--force', id], { root, cwd: caller }).status, 0);
  t.same(readOr(s.log).split('\n').filter(Boolean), expected(bundle.dir, caller), 'create, start, delete');
});

/** create (and start) by hand, to see each command's result. */
function createOnly(t: T, s: Setup, fail: Record<string, number>) {
  const id = uniqueId('hook');
  const bundle = makeBundle({ args: ['sh', '-c', 'echo process >> /hooklog/log'], mutate: hooksConfig(s, fail) });
  const create = tsrun(['create', '--bundle', bundle.dir, id], { root });
  return { id, bundle, create };
}

for (const point of ['prestart', 'createRuntime', 'createContainer']) {
  t.test(`a failing ${point} hook fails create, cleans up and runs poststop`, async (t) => {
    const s = newSetup();
    const { id, bundle, create } = createOnly(t, s, { [point]: 3 });
    try {
      t.equal(create.status, 1);
      t.match(create.stderr, new RegExp(`hooks\\.${point}\\[0\\] .*hook\\.sh failed: exit status 3`));
      t.same(residue(id, root, { bundle: bundle.dir }), [], 'nothing left behind');
      const names = readLog(s.log).map((e) => e.name);
      t.equal(names[names.length - 1], 'poststop', 'poststop ran');
      t.notOk(names.includes('process'), 'the process never ran');
      t.notOk(names.includes('startContainer'));
    } finally {
      forceDelete(id, root);
      bundle.cleanup();
    }
  });
}

t.test('a failing startContainer hook: start fails and the process never runs', async (t) => {
  const s = newSetup();
  const { id, bundle, create } = createOnly(t, s, { startContainer: 4 });
  try {
    t.equal(create.status, 0, create.stderr);
    const start = tsrun(['start', id], { root });
    t.equal(start.status, 1);
    t.match(start.stderr, /hooks\.startContainer\[0\] \/bin\/sh failed: exit status 4/);
    const st = tsrun(['state', id], { root });
    t.match(JSON.parse(st.stdout), { status: 'stopped' }, 'the container is stopped');
    const del = tsrun(['delete', id], { root });
    t.equal(del.status, 0, del.stderr);
    const names = readLog(s.log).map((e) => e.name);
    t.notOk(names.includes('process'), 'the process never ran');
    t.notOk(names.includes('poststart'), 'no poststart');
    t.same(residue(id, root, { bundle: bundle.dir }), []);
  } finally {
    forceDelete(id, root);
    bundle.cleanup();
  }
});

// A failing poststart hook fails start (runtime-spec 1.3): runc-process.test.ts.
t.test('a failing poststop hook is a warning', async (t) => {
  const s = newSetup();
  const r = runIn({ root, args: ['sh', '-c', 'echo process >> /hooklog/log'], mutate: hooksConfig(s, { poststop: 6 }) });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /poststop.*exit status 6/);
  t.ok(readLog(s.log).some((e) => e.name === 'poststop'));
  t.match(readOr(s.log), /^process$/m, 'the process ran');
  t.same(r.residue, []);
});

t.test('hook timeout: a createContainer hook that hangs fails create after its timeout', async (t) => {
  const started = Date.now();
  const r = runIn({
    root,
    args: ['true'],
    mutate: (c) => (c.hooks = { createContainer: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }] }),
  });
  t.equal(r.status, 1);
  t.match(r.stderr, /hooks\.createContainer\[0\] \/bin\/sleep: timed out after 1s/);
  t.ok(Date.now() - started < 15_000, 'did not wait for the hook');
  t.same(r.residue, []);
});
