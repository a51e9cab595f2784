// No kill leaves a container behind (issue 11, section 3). The operator may SIGKILL tsrun at
// any instant: every such point must be recoverable by `delete --force`, which then leaves
// no state dir, no cgroup dir in any hierarchy, no mount, no live process and no fifo.
// A damaged state.json (empty, truncated, garbage, {}, null, deleted) must not hide a
// running container from `delete --force` or `list`, nor let raw JavaScript errors through.
// --pid-file naming a directory fails before anything is made, and writes nothing anywhere.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Bundle, makeBundle } from '../helpers/bundle';
import { spawnSync } from 'node:child_process';
import { readOr, rootSuite, tempDir, tsrunAsync } from '../helpers/container';
import { cleanEnv, pidAlive, residue, tsrun, TsrunResult, uniqueId } from '../helpers/tsrun';

const root = rootSuite();
// Each kill point costs a create and a delete: the file runs a few dozen of them.
t.setTimeout(240_000);
const bundle = makeBundle({ args: ['sh', '-c', 'sleep 300 & exec sleep 301'] });
t.teardown(() => bundle.cleanup());

const sab = new Int32Array(new SharedArrayBuffer(4));
const pause = (ms: number) => Atomics.wait(sab, 0, 0, ms);

/** Poll without blocking the event loop; true when pred() held before the deadline. */
async function until(pred: () => boolean, ms = 15_000, every = 2): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (pred()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, every));
  }
}

function stat(pid: number): { ppid: number; start: string } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), start: f[19] };
  } catch {
    return undefined;
  }
}

/** Every live descendant of `pid` (with its start time, to tell a recycled pid apart). */
function descendants(pid: number): Array<{ pid: number; start: string }> {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(Number(name));
    children.set(s.ppid, list);
  }
  const out: Array<{ pid: number; start: string }> = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      const s = stat(c);
      if (s) out.push({ pid: c, start: s.start });
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** The live ones among processes recorded earlier. */
function stillAlive(procs: Array<{ pid: number; start: string }>): string[] {
  return procs.filter((p) => pidAlive(p.pid) && stat(p.pid)?.start === p.start).map((p) => `process: ${p.pid} (descendant of the killed tsrun)`);
}

/** A clean failure or success message: tsrun's own lines only, no JavaScript error text. */
const RAW_JS = /SyntaxError|TypeError|ReferenceError|RangeError|Cannot read propert|is not a function|Unexpected token|JSON at position|\n\s+at .+:\d+:\d+/;

/** Whatever the old code left behind, removed so a failing run does not pollute the machine. */
function scrub(id: string, procs: Array<{ pid: number; start: string }> = []): void {
  for (const p of procs) {
    if (stat(p.pid)?.start === p.start) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const line of residue(id, root)) {
    const pid = /^process: (\d+)/.exec(line)?.[1];
    if (pid) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const line of residue(id, root)) {
    const dir = /^cgroup: (.+)$/.exec(line)?.[1];
    for (let i = 0; dir && i < 50; i++) {
      try {
        fs.rmdirSync(dir);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
        pause(20);
      }
    }
  }
  fs.rmSync(path.join(root, id), { recursive: true, force: true });
}

interface KillPoint {
  /** SIGKILL after this many ms from the spawn of tsrun ... */
  afterMs?: number;
  /** ... or as soon as a --debug line matching this appears ... */
  line?: RegExp;
  /** ... then, with tsrun stopped (SIGSTOP), once the init blocks on exec.fifo: ready but not recorded. */
  initReady?: boolean;
  /** With a user namespace: the init asks us to move it into its cgroups before it is ready. */
  parentJoins?: boolean;
  /** The Node init (TSRUN_INIT=node) instead of the direct one, where the config allows both. */
  nodeInit?: boolean;
}

/** Start `create`/`run -d`, SIGKILL it at the point, `delete --force`, and list what is left. */
async function killThenDelete(command: 'create' | 'run', point: KillPoint, b: Bundle = bundle): Promise<{ left: string[]; del: TsrunResult; note: string }> {
  const id = uniqueId('res');
  const dir = tempDir('tsrun-res-');
  const errFile = path.join(dir.dir, 'stderr');
  const debug = point.line || point.initReady ? ['--debug'] : [];
  const args = [...debug, command, ...(command === 'run' ? ['--detach'] : []), '--bundle', b.dir, id];
  const env = point.nodeInit ? cleanEnv({ TSRUN_INIT: 'node' }) : undefined;
  const run = tsrunAsync(args, { root, stderrFile: errFile, stdoutFile: path.join(dir.dir, 'stdout'), env });
  const pid = run.child.pid!;
  let note = '';
  if (point.afterMs !== undefined) await new Promise((r) => setTimeout(r, point.afterMs));
  const line = point.initReady ? (point.nodeInit || point.parentJoins ? /setup request sent/ : /direct init: plan sent/) : point.line;
  if (line) {
    const seen = await until(() => line.test(readOr(errFile)));
    note = seen ? '' : ` (line ${line} never seen)`;
  }
  if (point.initReady && point.parentJoins) {
    // The init waits for us to move it into its cgroups: let that happen, and stop us as soon
    // as the init blocks on exec.fifo (we may win that race or not: see the retries below).
    const family = descendants(pid);
    const end = Date.now() + 15_000;
    while (Date.now() < end && !family.some((p) => readOr(`/proc/${p.pid}/wchan`) === 'wait_for_partner')) pause(0.02);
  }
  let procs: Array<{ pid: number; start: string }> = [];
  try {
    process.kill(pid, 'SIGSTOP');
  } catch {
    // exited already
  }
  if (point.initReady) {
    // Stopped before it reads `ready`: the init answers, stops dying with us (PDEATHSIG
    // cleared), then blocks opening exec.fifo.
    const blocked = await until(() => descendants(pid).some((p) => readOr(`/proc/${p.pid}/wchan`) === 'wait_for_partner'), 15_000);
    note += blocked ? '' : ' (init never blocked on exec.fifo)';
    if (fs.existsSync(path.join(root, id, 'state.json'))) note += ' (state.json was written already)';
  }
  procs = descendants(pid);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // exited already
  }
  await run.done;
  const del = tsrun(['delete', '--force', id], { root });
  // The init of a kill point may take a moment to die of its parent's death (PDEATHSIG).
  let left: string[] = [];
  await until(() => (left = [...residue(id, root, { bundle: b.dir }), ...stillAlive(procs)]).length === 0, 3000, 50);
  scrub(id, procs);
  dir.remove();
  return { left, del, note };
}

function checkPoint(tt: Test, label: string, r: { left: string[]; del: TsrunResult; note: string }): void {
  tt.equal(r.note, '', `${label}: the kill point was reached`);
  tt.equal(r.del.status, 0, `${label}: delete --force exits 0${r.note} (${r.del.stderr.trim()})`);
  tt.notMatch(r.del.stderr, RAW_JS, `${label}: no JavaScript error text`);
  tt.same(r.left, [], `${label}: nothing left after delete --force${r.note}`);
}

t.test('SIGKILL of create / run -d at swept times, then delete --force, leaves nothing', async (tt) => {
  // tsrun's node starts in ~100-250 ms here, create takes ~150 ms more: sweep past both.
  for (const command of ['create', 'run'] as const) {
    for (let ms = 0; ms <= 560; ms += 35) {
      checkPoint(tt, `${command} killed after ${ms} ms`, await killThenDelete(command, { afterMs: ms }));
    }
  }
});

t.test('SIGKILL of create / run -d at named phases, then delete --force, leaves nothing', async (tt) => {
  // The direct init: the kill lands while our main thread is in the container's namespaces too.
  const direct = [/config validated/, /direct init: tsrun-stage is pid/, /mount tmpfs tmpfs on \/dev/, /pivoted/, /direct init: plan sent/, /direct init ready/, /created res-/];
  const node = [/init spawned/, /cgroups ready/, /setup request sent/, /setup request received/, /pivoted/, /unshare cgroup namespace/, /created res-/];
  for (const command of ['create', 'run'] as const) {
    for (const line of direct) checkPoint(tt, `${command} killed at ${line}`, await killThenDelete(command, { line }));
    for (const line of node) checkPoint(tt, `${command} (Node init) killed at ${line}`, await killThenDelete(command, { line, nodeInit: true }));
  }
});

t.test('SIGKILL after the init is ready but before state.json is written', async (tt) => {
  for (const command of ['create', 'run'] as const) {
    // The direct init is ready ~1 ms after its plan: stopping tsrun in between is a race, retried.
    let r = await killThenDelete(command, { initReady: true });
    for (let attempt = 1; attempt < 8 && r.note !== ''; attempt++) {
      tt.same(r.left, [], `${command}: nothing left after a try that missed the window${r.note}`);
      r = await killThenDelete(command, { initReady: true });
    }
    checkPoint(tt, `${command} killed with the init ready`, r);
    checkPoint(tt, `${command} (Node init) killed with the init ready`, await killThenDelete(command, { initReady: true, nodeInit: true }));
  }
});

t.test('with a user namespace (the init behind a waiter): SIGKILL at phases and with the init ready', async (tt) => {
  // As engines do for a user namespace: the rootfs belongs to the mapped root.
  const HOST = 100000;
  const userns = makeBundle({
    args: ['sleep', '300'],
    copyRootfs: true,
    mutate: (c) => {
      c.linux.namespaces!.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
    },
  });
  tt.teardown(() => userns.cleanup());
  spawnSync('chown', ['-R', `${HOST}:${HOST}`, userns.rootfs]);
  fs.chmodSync(userns.dir, 0o755);
  for (const line of [/init spawned/, /cgroups ready/, /setup request received/]) {
    checkPoint(tt, `userns create killed at ${line}`, await killThenDelete('create', { line }, userns));
  }
  for (const command of ['create', 'run'] as const) {
    // Stopping tsrun between the init's `ready` and its state.json is a race here: retried.
    let r = await killThenDelete(command, { initReady: true, parentJoins: true }, userns);
    for (let attempt = 1; attempt < 8 && r.note !== ''; attempt++) {
      tt.same(r.left, [], `userns ${command}: nothing left after a try that missed the window${r.note}`);
      r = await killThenDelete(command, { initReady: true, parentJoins: true }, userns);
    }
    checkPoint(tt, `userns ${command} killed with the init ready`, r);
  }
});

/** What a damaged state.json looks like, written over (or instead of) the real one. */
const DAMAGE: Array<{ name: string; damage: (file: string) => void }> = [
  { name: 'empty', damage: (f) => fs.writeFileSync(f, '') },
  { name: 'truncated', damage: (f) => fs.writeFileSync(f, fs.readFileSync(f, 'utf8').slice(0, 100)) },
  { name: 'garbage', damage: (f) => fs.writeFileSync(f, '\u0000\u00ffnot json at all {{{') },
  { name: '{}', damage: (f) => fs.writeFileSync(f, '{}') },
  { name: 'null', damage: (f) => fs.writeFileSync(f, 'null') },
  { name: 'a wrong shape', damage: (f) => fs.writeFileSync(f, '{"id":5,"pid":"x","config":[],"cgroup":"no"}') },
  { name: 'deleted', damage: (f) => fs.rmSync(f) },
];

function checkMessage(tt: Test, r: TsrunResult, what: string): void {
  tt.notMatch(r.stderr, RAW_JS, `${what}: no JavaScript error text`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  tt.ok(lines.every((l) => l.startsWith('tsrun: ')), `${what}: stderr is tsrun's own lines (${r.stderr.trim()})`);
  tt.ok(lines.length <= 1, `${what}: at most one line`);
}

/** A running container (run -d) and its processes (host pids), found through its cgroup. */
function runningContainer(tt: Test): { id: string; pids: number[]; starts: string[] } {
  const id = uniqueId('dmg');
  const pidFile = path.join(bundle.dir, `${id}.pid`);
  const r = tsrun(['run', '--detach', '--pid-file', pidFile, '--bundle', bundle.dir, id], { root });
  tt.equal(r.status, 0, `run -d ${id} (${r.stderr.trim()})`);
  const init = Number(readOr(pidFile));
  fs.rmSync(pidFile, { force: true });
  let pids: number[] = [];
  // sh has forked its sleep and exec'd the other one: two processes.
  const ok = (() => {
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      pids = [init, ...descendants(init).map((p) => p.pid)];
      if (pids.length >= 2) return true;
      pause(10);
    }
    return false;
  })();
  tt.ok(ok, `the container runs two processes (${pids.join(' ')})`);
  return { id, pids, starts: pids.map((p) => stat(p)?.start ?? '') };
}

t.test('damaged state.json of a running container', async (tt) => {
  for (const { name, damage } of DAMAGE) {
    await tt.test(`state.json ${name}`, async (tt) => {
      const c = runningContainer(tt);
      const procs = c.pids.map((pid, i) => ({ pid, start: c.starts[i] }));
      try {
        damage(path.join(root, c.id, 'state.json'));

        const list = tsrun(['list', '--format', 'json'], { root });
        tt.equal(list.status, 0, `list exits 0 (${list.stderr.trim()})`);
        checkMessage(tt, list, 'list');
        let entries: Array<{ id: string; status: string }> = [];
        try {
          entries = JSON.parse(list.stdout) as typeof entries;
        } catch {
          tt.fail(`list --format json prints JSON: ${list.stdout}`);
        }
        tt.equal(entries.find((e) => e.id === c.id)?.status, 'damaged', 'list shows the container as damaged');
        const table = tsrun(['list'], { root });
        tt.match(table.stdout, new RegExp(`^${c.id}\\s+\\d+\\s+damaged\\b`, 'm'), 'the list table shows it as damaged');

        const st = tsrun(['state', c.id], { root });
        tt.equal(st.status, 1, 'state fails');
        checkMessage(tt, st, 'state');
        tt.match(st.stderr, /damaged/, 'state says the container is damaged');
        tt.match(st.stderr, /delete --force/, 'and how to remove it');
        const kill = tsrun(['kill', c.id, 'KILL'], { root });
        tt.equal(kill.status, 1, 'kill fails');
        checkMessage(tt, kill, 'kill');
        const del = tsrun(['delete', c.id], { root });
        tt.equal(del.status, 1, 'delete without --force refuses');
        checkMessage(tt, del, 'delete');

        const force = tsrun(['delete', '--force', c.id], { root });
        tt.equal(force.status, 0, `delete --force exits 0 (${force.stderr.trim()})`);
        checkMessage(tt, force, 'delete --force');
        tt.same(stillAlive(procs), [], "the container's processes are killed");
        tt.same(residue(c.id, root, { bundle: bundle.dir }), [], 'nothing left (state dir, cgroups, mounts, processes)');
      } finally {
        scrub(c.id, procs);
      }
    });
  }
});

t.test('state.json and the recovery record both damaged: delete --force finds the cgroup from the id', async (tt) => {
  const c = runningContainer(tt);
  const procs = c.pids.map((pid, i) => ({ pid, start: c.starts[i] }));
  try {
    for (const name of fs.readdirSync(path.join(root, c.id))) {
      if (name.endsWith('.json')) fs.writeFileSync(path.join(root, c.id, name), 'garbage');
    }
    const list = tsrun(['list', '--format', 'json'], { root });
    tt.equal((JSON.parse(list.stdout || '[]') as Array<{ id: string; status: string }>).find((e) => e.id === c.id)?.status, 'damaged', 'list shows it as damaged');
    const force = tsrun(['delete', '--force', c.id], { root });
    tt.equal(force.status, 0, `delete --force exits 0 (${force.stderr.trim()})`);
    checkMessage(tt, force, 'delete --force');
    tt.same(stillAlive(procs), [], "the container's processes are killed");
    tt.same(residue(c.id, root, { bundle: bundle.dir }), [], 'nothing left');
  } finally {
    scrub(c.id, procs);
  }
});

t.test('--pid-file naming a directory: exit 1, one line, nothing made anywhere', async (tt) => {
  for (const command of ['create', 'run'] as const) {
    const id = uniqueId('pidf');
    const parent = tempDir('tsrun-pidfile-');
    try {
      const target = path.join(parent.dir, 'a-directory');
      fs.mkdirSync(target);
      const args = [command, ...(command === 'run' ? ['--detach'] : []), '--pid-file', target, '--bundle', bundle.dir, id];
      const r = tsrun(args, { root });
      tt.equal(r.status, 1, `${command}: exit 1`);
      checkMessage(tt, r, command);
      tt.match(r.stderr, /^tsrun: .*--pid-file.*a-directory.*directory/, `${command}: the message names the flag, the path and the problem`);
      tt.same(fs.readdirSync(parent.dir), ['a-directory'], `${command}: nothing written next to the target`);
      tt.same(fs.readdirSync(target), [], `${command}: nothing written inside it`);
      tt.same(residue(id, root, { bundle: bundle.dir }), [], `${command}: no container left`);
    } finally {
      scrub(id);
      parent.remove();
    }
  }
});

t.test('exec --pid-file naming a directory: exit 1, one line, nothing written, nothing run', async (tt) => {
  const c = runningContainer(tt);
  const procs = c.pids.map((pid, i) => ({ pid, start: c.starts[i] }));
  const parent = tempDir('tsrun-pidfile-');
  try {
    const target = path.join(parent.dir, 'a-directory');
    fs.mkdirSync(target);
    const r = tsrun(['exec', '--detach', '--pid-file', target, c.id, 'sleep', '299'], { root });
    tt.equal(r.status, 1, 'exit 1');
    checkMessage(tt, r, 'exec');
    tt.match(r.stderr, /^tsrun: .*--pid-file.*a-directory.*directory/, 'the message names the flag, the path and the problem');
    tt.same(fs.readdirSync(parent.dir), ['a-directory'], 'nothing written next to the target');
    tt.same(fs.readdirSync(target), [], 'nothing written inside it');
    const ran = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && readOr(`/proc/${p}/cmdline`) === 'sleep\u0000299\u0000' && readOr(`/proc/${p}/cgroup`).includes(c.id));
    tt.same(ran, [], 'the process was not started');
  } finally {
    parent.remove();
    tsrun(['delete', '--force', c.id], { root });
    scrub(c.id, procs);
  }
});

