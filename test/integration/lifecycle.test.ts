// The container life cycle through the CLI, as engines drive it: create -> start -> kill ->
// delete, run in the foreground and detached, the refusals engines depend on, concurrent
// creates of one id, and list. Every container here is real (busybox rootfs, pid/mount/...
// namespaces) and the assertions look at what it did (its output, its pid) as well as at
// what tsrun reports.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Bundle, BundleOptions, makeBundle } from '../helpers/bundle';
import { readOr, RFC3339, stopTapSpawnHooks, tsrunAsync } from '../helpers/container';
import { validateState } from '../../src/spec/validate';
import { forceDelete, freshRoot, pidAlive, residue, state, tsrun, TsrunResult, uniqueId, waitFor } from '../helpers/tsrun';

stopTapSpawnHooks(); // run tsrun as engines do, without tap's loader
const root = freshRoot();
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));

/** A container's bundle plus files that collect its stdout/stderr; deleted in teardown. */
interface Ctr {
  id: string;
  bundle: Bundle;
  out: string;
  err: string;
  pidFile: string;
  root: string;
}

function newCtr(tt: { teardown(fn: () => void): void }, opts: BundleOptions & { root?: string } = {}): Ctr {
  const id = uniqueId('life');
  const bundle = makeBundle(opts);
  const r = opts.root ?? root;
  tt.teardown(() => {
    // (skipped when there is no state dir: saves a tsrun start-up per container)
    if (fs.existsSync(path.join(r, id))) forceDelete(id, r);
    bundle.cleanup();
  });
  return {
    id,
    bundle,
    root: r,
    out: path.join(bundle.dir, 'ctr.stdout'),
    err: path.join(bundle.dir, 'ctr.stderr'),
    pidFile: path.join(bundle.dir, 'ctr.pid'),
  };
}

/** tsrun with the container's output files, so a detached container writes there. */
function cli(c: Ctr, args: string[], opts: { cwd?: string } = {}): TsrunResult {
  return tsrun(args, { root: c.root, stdoutFile: c.out, stderrFile: c.err, cwd: opts.cwd });
}

function create(c: Ctr, extra: string[] = []): TsrunResult {
  return cli(c, ['create', '--bundle', c.bundle.dir, '--pid-file', c.pidFile, ...extra, c.id]);
}

function why(r: TsrunResult): string {
  return `${r.argv.slice(2).join(' ')} -> status ${r.status}${r.signal ? ` signal ${r.signal}` : ''}; stderr: ${r.stderr.trim()}`;
}

/** tsrun without blocking the event loop (so subtests can run side by side). */
function cliAsync(c: Ctr, args: string[]): Promise<TsrunResult> {
  return tsrunAsync(args, { root: c.root, stdoutFile: c.out, stderrFile: c.err }).done;
}

/** Poll without blocking the event loop. */
async function until(pred: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (pred()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function statusOf(c: Ctr): string {
  const r = tsrun(['state', c.id], { root: c.root });
  if (r.status !== 0) return `error: ${r.stderr.trim()}`;
  return (JSON.parse(r.stdout) as { status: string }).status;
}

function waitStatus(c: Ctr, want: string, ms = 10_000): boolean {
  return waitFor(() => statusOf(c) === want, ms, 50);
}

function waitOutput(c: Ctr, re: RegExp, ms = 10_000): boolean {
  return waitFor(() => re.test(readOr(c.out)), ms, 20);
}

// A process that reports SIGTERM (pid 1 ignores signals it has no handler for) and
// otherwise runs until killed.
const TRAP_SCRIPT = 'trap "echo got-TERM; exit 0" TERM; echo ready; while :; do sleep 0.05; done';

t.test('create -> created -> start -> running -> kill -> stopped -> delete', async (t) => {
  const c = newCtr(t, { args: ['sh', '-c', `echo started-$$; ${TRAP_SCRIPT}`] });
  // A relative --bundle: state must report it absolute.
  const before = Date.now();
  const cr = cli(c, ['create', '--bundle', path.basename(c.bundle.dir), '--pid-file', c.pidFile, c.id], {
    cwd: path.dirname(c.bundle.dir),
  });
  const after = Date.now();
  t.equal(cr.status, 0, why(cr));

  const s = state(c.id, root);
  t.equal(s.status, 'created');
  t.equal(s.id, c.id);
  t.type(s.pid, 'number');
  t.ok(s.pid > 0, `pid ${s.pid} > 0`);
  t.ok(pidAlive(s.pid), 'the init is alive');
  const pidText = readOr(c.pidFile);
  t.match(pidText, /^\d+$/, 'pid file holds only the pid');
  t.equal(Number(pidText), s.pid, 'pid file = state pid');
  t.equal(s.bundle, c.bundle.dir, 'bundle is absolute');
  t.ok(path.isAbsolute(String(s.bundle)));
  t.equal(s.rootfs, c.bundle.rootfs);
  t.equal(s.ociVersion, '1.0.2', 'ociVersion from config.json');
  t.type(s.created, 'string');
  t.match(String(s.created), RFC3339, `created ${s.created} is RFC3339`);
  t.match(String(s.created), /Z$/, 'created is UTC');
  const created = Date.parse(String(s.created));
  t.ok(created >= before - 1000 && created <= after + 1000, `created ${s.created} within the create call`);
  t.equal(s.owner, os.userInfo().username);
  t.same(s.annotations ?? {}, {});
  t.doesNotThrow(() => validateState(s, 'tsrun state'), 'matches the OCI state schema');
  t.equal(readOr(c.out), '', 'the user process has not run before start');

  const st = cli(c, ['start', c.id]);
  t.equal(st.status, 0, why(st));
  t.ok(waitOutput(c, /ready/), `container ran: ${readOr(c.out)}`);
  t.match(readOr(c.out), /^started-1$/m, 'the user process is pid 1 of its namespace');
  const running = state(c.id, root);
  t.equal(running.status, 'running');
  t.equal(running.pid, s.pid, 'same pid once started');
  t.doesNotThrow(() => validateState(running, 'tsrun state'), 'matches the OCI state schema');

  const k = cli(c, ['kill', c.id, 'KILL']);
  t.equal(k.status, 0, why(k));
  t.ok(waitStatus(c, 'stopped'), `stopped after kill (now ${statusOf(c)})`);
  const stopped = state(c.id, root);
  t.equal(stopped.pid, 0, 'pid 0 when stopped');
  t.notOk(pidAlive(s.pid), 'init is gone');
  t.notMatch(readOr(c.out), /got-TERM/, 'KILL was not delivered as TERM');

  const d = cli(c, ['delete', c.id]);
  t.equal(d.status, 0, why(d));
  t.notOk(fs.existsSync(path.join(root, c.id)), 'state dir gone');
  t.same(residue(c.id, root, { bundle: c.bundle.dir }), [], 'nothing left');
  const gone = tsrun(['state', c.id], { root });
  t.equal(gone.status, 1);
  t.match(gone.stderr, /container does not exist/);
});

// kill by name and number: KILL was covered above; each of these gets its own container,
// all driven at the same time.
t.test('kill by name and number', { jobs: 5 }, async (t) => {
  const cases = [['SIGKILL', false], ['9', false], ['15', true], ['TERM', true], [undefined, true]] as const;
  await Promise.all(
    cases.map(([sig, termed]) =>
      t.test(`kill ${sig ?? '(default signal)'}`, async (t) => {
        const c = newCtr(t, { args: ['sh', '-c', TRAP_SCRIPT] });
        const cr = await cliAsync(c, ['create', '--bundle', c.bundle.dir, '--pid-file', c.pidFile, c.id]);
        t.equal(cr.status, 0, why(cr));
        const st = await cliAsync(c, ['start', c.id]);
        t.equal(st.status, 0, why(st));
        t.ok(await until(() => /ready/.test(readOr(c.out))), 'trap installed');
        const pid = Number(readOr(c.pidFile));
        const k = await cliAsync(c, ['kill', c.id, ...(sig === undefined ? [] : [sig])]);
        t.equal(k.status, 0, why(k));
        t.ok(await until(() => !pidAlive(pid)), 'init gone');
        const s = await cliAsync(c, ['state', c.id]);
        t.equal(s.status, 0, why(s));
        t.match(JSON.parse(s.stdout || '{}'), { status: 'stopped', pid: 0 }, 'stopped, pid 0');
        if (termed) t.match(readOr(c.out), /got-TERM/, 'the container received SIGTERM');
        else t.notMatch(readOr(c.out), /got-TERM/, 'the container was killed, not terminated');
        const d = await cliAsync(c, ['delete', c.id]);
        t.equal(d.status, 0, why(d));
        t.notOk(fs.existsSync(path.join(root, c.id)), 'state dir gone');
        t.same(residue(c.id, root, { bundle: c.bundle.dir }), []);
      }),
    ),
  );
});

t.test('run in the foreground exits with the container status', async (t) => {
  for (const code of [0, 3, 255]) {
    const c = newCtr(t, { args: ['sh', '-c', `echo out-${code}; exit ${code}`] });
    const r = cli(c, ['run', '--bundle', c.bundle.dir, c.id]);
    t.equal(r.status, code, `exit ${code}: ${why(r)}`);
    t.equal(readOr(c.out), `out-${code}\n`, 'container stdout reached ours');
    t.notOk(fs.existsSync(path.join(root, c.id)), 'deleted after run (no --keep)');
    t.same(residue(c.id, root, { bundle: c.bundle.dir }), []);
  }
});

t.test('run: a container killed by signal N gives 128+N', async (t) => {
  await t.test('the process kills itself with SIGTERM (no pid namespace, so it is not an init)', async (t) => {
    const c = newCtr(t, {
      args: ['sh', '-c', 'echo before; kill -TERM $$; echo after'],
      mutate: (cfg) => {
        cfg.linux.namespaces = cfg.linux.namespaces!.filter((ns) => ns.type !== 'pid');
      },
    });
    const r = cli(c, ['run', '--bundle', c.bundle.dir, c.id]);
    t.equal(r.status, 128 + 15, why(r));
    t.equal(readOr(c.out), 'before\n');
    t.same(residue(c.id, root, { bundle: c.bundle.dir }), []);
  });
  await t.test('another process runs `tsrun kill ID 9` while run waits', async (t) => {
    const c = newCtr(t, { args: ['sh', '-c', 'echo ready; exec sleep 300'] });
    const run = tsrunAsync(['run', '--bundle', c.bundle.dir, c.id], { root, stdoutFile: c.out, stderrFile: c.err });
    t.ok(await until(() => /ready/.test(readOr(c.out))), 'container is running');
    t.equal(statusOf(c), 'running');
    const k = tsrun(['kill', c.id, '9'], { root });
    t.equal(k.status, 0, why(k));
    const r = await run.done;
    t.equal(r.status, 128 + 9, why(r));
    t.notOk(fs.existsSync(path.join(root, c.id)), 'run deleted it');
    t.same(residue(c.id, root, { bundle: c.bundle.dir }), []);
  });
});

t.test('run -d returns with the container running', async (t) => {
  const c = newCtr(t, { args: ['sh', '-c', 'echo detached-ok; exec sleep 300'] });
  const start = Date.now();
  const r = cli(c, ['run', '-d', '--bundle', c.bundle.dir, '--pid-file', c.pidFile, c.id]);
  t.equal(r.status, 0, why(r));
  t.ok(Date.now() - start < 10_000, 'returned without waiting for the container');
  const s = state(c.id, root);
  t.equal(s.status, 'running');
  t.ok(pidAlive(s.pid), 'init alive');
  t.equal(Number(readOr(c.pidFile)), s.pid, 'pid file');
  t.ok(waitOutput(c, /detached-ok/), 'the process ran');
  const d = cli(c, ['delete', '--force', c.id]);
  t.equal(d.status, 0, why(d));
  t.ok(waitFor(() => !pidAlive(s.pid)), 'init gone after delete --force');
  t.same(residue(c.id, root, { bundle: c.bundle.dir }), []);
});

t.test('run --keep keeps a stopped container', async (t) => {
  const c = newCtr(t, { args: ['sh', '-c', 'exit 5'] });
  const r = cli(c, ['run', '--keep', '--bundle', c.bundle.dir, c.id]);
  t.equal(r.status, 5, why(r));
  t.ok(fs.existsSync(path.join(root, c.id)), 'state dir kept');
  const s = state(c.id, root);
  t.equal(s.status, 'stopped');
  t.equal(s.pid, 0);
  await t.test('kill of a stopped container exits 1 with "container not running"', async (t) => {
    for (const args of [[c.id, '9'], [c.id]]) {
      const k = tsrun(['kill', ...args], { root });
      t.equal(k.status, 1, why(k));
      t.match(k.stderr, /container not running/);
    }
  });
  await t.test('start of a stopped container fails', async (t) => {
    const st = tsrun(['start', c.id], { root });
    t.equal(st.status, 1, why(st));
    t.match(st.stderr, /stopped/);
    t.equal(statusOf(c), 'stopped');
  });
  const d = cli(c, ['delete', c.id]);
  t.equal(d.status, 0, why(d));
  t.notOk(fs.existsSync(path.join(root, c.id)));
  t.same(residue(c.id, root, { bundle: c.bundle.dir }), []);
});

t.test('delete of a created container (no --force) kills the init', async (t) => {
  const c = newCtr(t, { args: ['sh', '-c', 'echo should-not-run'] });
  t.equal(create(c).status, 0);
  const pid = state(c.id, root).pid;
  t.ok(pidAlive(pid));
  const d = cli(c, ['delete', c.id]);
  t.equal(d.status, 0, why(d));
  t.ok(waitFor(() => !pidAlive(pid), 5000), 'init gone');
  t.notOk(fs.existsSync(path.join(root, c.id)), 'state dir gone');
  t.equal(readOr(c.out), '', 'the user process never ran');
  t.same(residue(c.id, root, { bundle: c.bundle.dir }), []);
});

t.test('delete of a running container needs --force', async (t) => {
  const c = newCtr(t, { args: ['sleep', '300'] });
  t.equal(create(c).status, 0);
  t.equal(cli(c, ['start', c.id]).status, 0);
  const pid = state(c.id, root).pid;
  const d = tsrun(['delete', c.id], { root });
  t.equal(d.status, 1, why(d));
  t.match(d.stderr, /not stopped/);
  t.equal(statusOf(c), 'running', 'still running');
  t.ok(pidAlive(pid), 'init untouched');
  const f = tsrun(['delete', '--force', c.id], { root });
  t.equal(f.status, 0, why(f));
  t.ok(waitFor(() => !pidAlive(pid), 5000), 'init gone');
  t.notOk(fs.existsSync(path.join(root, c.id)));
  t.same(residue(c.id, root, { bundle: c.bundle.dir }), []);
});

t.test('start twice fails and leaves the container running', async (t) => {
  const c = newCtr(t, { args: ['sh', '-c', 'echo once; exec sleep 300'] });
  t.equal(create(c).status, 0);
  const first = cli(c, ['start', c.id]);
  t.equal(first.status, 0, why(first));
  const second = tsrun(['start', c.id], { root });
  t.equal(second.status, 1, why(second));
  t.match(second.stderr, /cannot start/);
  t.match(second.stderr, /running/);
  t.ok(waitOutput(c, /once/));
  t.equal(readOr(c.out), 'once\n', 'the process ran exactly once');
  t.equal(statusOf(c), 'running');
});

t.test('two concurrent creates of one id: exactly one wins, its state untouched', async (t) => {
  for (let round = 0; round < 2; round++) {
    const a = newCtr(t, { args: ['sh', '-c', 'echo A-ran; exec sleep 300'] });
    const b = newCtr(t, { args: ['sh', '-c', 'echo B-ran; exec sleep 300'] });
    b.id = a.id;
    const both = [a, b].map((c) =>
      tsrunAsync(['create', '--bundle', c.bundle.dir, '--pid-file', c.pidFile, c.id], { root, stdoutFile: c.out, stderrFile: c.err }),
    );
    const [ra, rb] = await Promise.all(both.map((x) => x.done));
    const wins = [ra, rb].filter((r) => r.status === 0).length;
    t.equal(wins, 1, `round ${round}: exactly one create succeeds (${why(ra)} | ${why(rb)})`);
    if (wins !== 1) continue;
    const [winner, loser, lr] = ra.status === 0 ? [a, b, rb] : [b, a, ra];
    t.equal(lr.status, 1, 'the other exits 1');
    t.match(lr.stderr, /already exists/);
    t.notOk(fs.existsSync(loser.pidFile), 'the loser wrote no pid file');
    const s = state(winner.id, root);
    t.equal(s.status, 'created', "winner's state survives the loser");
    t.equal(s.bundle, winner.bundle.dir, "winner's bundle");
    t.equal(Number(readOr(winner.pidFile)), s.pid, "winner's pid");
    t.ok(pidAlive(s.pid));
    const st = tsrun(['start', winner.id], { root });
    t.equal(st.status, 0, why(st));
    const mark = winner === a ? /A-ran/ : /B-ran/;
    t.ok(waitOutput(winner, mark), "the winner's process runs");
    t.equal(readOr(loser.out), '', 'nothing from the loser');
    const d = tsrun(['delete', '--force', winner.id], { root });
    t.equal(d.status, 0, why(d));
    t.same(residue(winner.id, root, { bundle: winner.bundle.dir }), []);
    t.same(residue(winner.id, root, { bundle: loser.bundle.dir }), []);
  }
});

t.test('list: table, --format json, -q', async (t) => {
  const lroot = freshRoot();
  t.teardown(() => fs.rmSync(lroot, { recursive: true, force: true }));
  const empty = tsrun(['list', '-q'], { root: lroot });
  t.equal(empty.status, 0, why(empty));
  t.equal(empty.stdout, '', 'no containers, no ids');

  const created = newCtr(t, { root: lroot, args: ['sleep', '300'] });
  const running = newCtr(t, { root: lroot, args: ['sleep', '300'] });
  const stopped = newCtr(t, { root: lroot, args: ['true'] });
  t.equal(create(created).status, 0);
  t.equal(cli(running, ['run', '-d', '--bundle', running.bundle.dir, running.id]).status, 0);
  t.equal(cli(stopped, ['run', '--keep', '--bundle', stopped.bundle.dir, stopped.id]).status, 0);
  const want: Record<string, { status: string; pid: number; bundle: string }> = {};
  for (const [c, status] of [[created, 'created'], [running, 'running'], [stopped, 'stopped']] as const) {
    const s = state(c.id, lroot);
    t.equal(s.status, status, `${status} container`);
    want[c.id] = { status, pid: s.pid, bundle: c.bundle.dir };
  }

  const q = tsrun(['list', '-q'], { root: lroot });
  t.equal(q.status, 0, why(q));
  t.same(q.stdout.trim().split('\n').sort(), Object.keys(want).sort(), '-q prints the ids, one a line');

  const table = tsrun(['list'], { root: lroot });
  t.equal(table.status, 0, why(table));
  const rows = table.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
  t.same(rows[0], ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], 'header');
  t.equal(rows.length, 4, 'one row per container');
  for (const row of rows.slice(1)) {
    const w = want[row[0]];
    t.ok(w, `row for ${row[0]}`);
    if (!w) continue;
    t.equal(Number(row[1]), w.pid, `${row[0]} pid`);
    t.equal(row[2], w.status, `${row[0]} status`);
    t.equal(row[3], w.bundle, `${row[0]} bundle`);
    t.match(row[4], RFC3339, `${row[0]} created`);
    t.equal(row[5], os.userInfo().username, `${row[0]} owner`);
  }

  for (const flags of [['--format', 'json'], ['--format=json'], ['-f', 'json']]) {
    const j = tsrun(['list', ...flags], { root: lroot });
    t.equal(j.status, 0, why(j));
    let parsed: Array<Record<string, unknown>> = [];
    t.doesNotThrow(() => {
      parsed = JSON.parse(j.stdout);
    }, `${flags.join(' ')} prints JSON`);
    t.ok(Array.isArray(parsed), 'an array');
    t.same(parsed.map((s) => s.id).sort(), Object.keys(want).sort(), `${flags.join(' ')}: every container`);
    for (const s of parsed) {
      const w = want[String(s.id)];
      if (!w) continue;
      t.equal(s.status, w.status);
      t.equal(s.pid, w.pid);
      t.equal(s.bundle, w.bundle);
      t.match(String(s.created), RFC3339);
    }
  }
});
