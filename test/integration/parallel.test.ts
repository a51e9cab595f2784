// Parallel load (issue 6): many tsrun processes at once, as an engine starting a batch of
// containers makes them.
//  - 50 containers with distinct ids: every create, start and delete runs concurrently with
//    the others (all 50 chains at once); all succeed, each container's process ran, and
//    nothing of any of them is left (state, mounts, cgroups, processes).
//  - one id created 20 times at once (20 bundles, each printing its own mark): exactly one
//    create wins; the 19 others exit 1 with "already exists", write no pid file, start no
//    process, and leave the winner's state, pid and process as they were.
// (The 1 MiB memory-limit `echo hi` case of issue 6 is in cgroups.test.ts.)
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Bundle, makeBundle } from '../helpers/bundle';
import { readOr, stopTapSpawnHooks, tsrunAsync } from '../helpers/container';
import { forceDelete, freshRoot, pidAlive, residue, state, tsrun, tsrunBuilt, TsrunResult, uniqueId, waitFor } from '../helpers/tsrun';

stopTapSpawnHooks(); // run tsrun as engines do, without tap's loader
if (process.getuid?.() !== 0) {
  t.plan(0, 'parallel containers need root');
  process.exit(0);
}
if (!tsrunBuilt()) {
  t.plan(0, 'dist/tsrun.js is not built: npm run build');
  process.exit(0);
}
t.setTimeout(115_000);
const root = freshRoot();
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));

/** Per-command timeout: 50 Node start-ups share 2 cores. */
const CMD_TIMEOUT = 90_000;

interface Ctr {
  id: string;
  bundle: Bundle;
  out: string;
  err: string;
  pidFile: string;
}

function newCtr(tt: { teardown(fn: () => void): void }, id: string, args: string[]): Ctr {
  const bundle = makeBundle({ args });
  tt.teardown(() => {
    if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
    bundle.cleanup();
  });
  return { id, bundle, out: path.join(bundle.dir, 'out'), err: path.join(bundle.dir, 'err'), pidFile: path.join(bundle.dir, 'pid') };
}

function run(c: Ctr, args: string[]): Promise<TsrunResult> {
  return tsrunAsync(args, { root, stdoutFile: c.out, stderrFile: c.err, timeout: CMD_TIMEOUT }).done;
}

function why(r: TsrunResult): string {
  return `${r.argv.slice(2).join(' ')} -> status ${r.status}${r.signal ? ` signal ${r.signal}` : ''}${r.error ? ` (${r.error.message})` : ''}; stderr: ${r.stderr.trim()}`;
}

/** Resolves true once pid is gone or a zombie, false after timeoutMs. */
async function exited(pid: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

t.test('50 containers created, started and deleted concurrently: all succeed, nothing left', async (tt) => {
  const N = 50;
  const base = uniqueId('par');
  const ctrs = Array.from({ length: N }, (_, i) => newCtr(tt, `${base}-c${String(i).padStart(2, '0')}`, ['echo', `ran-${i}`]));
  const started = Date.now();
  // Each chain: create -> start -> wait for the process -> delete; the 50 chains run at once.
  const outcomes = await Promise.all(
    ctrs.map(async (c): Promise<string> => {
      let r = await run(c, ['create', '--bundle', c.bundle.dir, '--pid-file', c.pidFile, c.id]);
      if (r.status !== 0) return `create: ${why(r)}`;
      const pid = Number(readOr(c.pidFile).trim());
      if (!(pid > 0)) return `create: no pid in ${c.pidFile}`;
      r = await run(c, ['start', c.id]);
      if (r.status !== 0) return `start: ${why(r)}`;
      if (!(await exited(pid, 30_000))) return `wait: pid ${pid} still running after 30 s`;
      r = await run(c, ['delete', c.id]);
      if (r.status !== 0) return `delete: ${why(r)}`;
      return 'ok';
    }),
  );
  const wall = (Date.now() - started) / 1000;
  const failed = outcomes.map((o, i) => [ctrs[i].id, o]).filter(([, o]) => o !== 'ok');
  tt.same(failed, [], `all ${N} create/start/delete chains succeed (${wall.toFixed(1)} s)`);
  for (const c of ctrs) {
    tt.equal(readOr(c.out), `ran-${ctrs.indexOf(c)}\n`, `${c.id}: its process ran`);
  }
  // nothing left, for each of them
  const scan = Date.now();
  const left = ctrs.flatMap((c) => residue(c.id, root, { bundle: c.bundle.dir }));
  tt.comment(`residue scan of ${N} containers: ${((Date.now() - scan) / 1000).toFixed(1)} s`);
  tt.same(left, [], 'residue() is empty for every container');
  tt.same(fs.readdirSync(root).filter((n) => n.startsWith(base)), [], 'no state directory left');
});

t.test('one id created 20 times concurrently: exactly one container, the others refused', async (tt) => {
  const N = 20;
  const id = uniqueId('same');
  // Twenty bundles for one id, each printing its own mark: only the winner's may ever run.
  const ctrs = Array.from({ length: N }, (_, i) => newCtr(tt, id, ['sh', '-c', `echo mark-${i}; exec sleep 300`]));
  const results = await Promise.all(ctrs.map((c) => run(c, ['create', '--bundle', c.bundle.dir, '--pid-file', c.pidFile, id])));
  const winners = results.map((r, i) => (r.status === 0 ? i : -1)).filter((i) => i >= 0);
  const odd = results.filter((r) => r.status !== 0 && !/already exists/.test(r.stderr)).map(why);
  tt.equal(winners.length, 1, `exactly one of ${N} creates succeeds (${winners.length}${odd.length ? `; ${odd.join(' | ')}` : ''})`);
  if (winners.length !== 1) return;
  const w = winners[0];
  const winner = ctrs[w];
  const losers = ctrs.map((c, i) => ({ c, r: results[i] })).filter((_, i) => i !== w);
  tt.same(losers.filter(({ r }) => r.status !== 1).map(({ r }) => why(r)), [], 'the 19 others exit 1');
  tt.same(losers.filter(({ r }) => !/already exists/.test(r.stderr)).map(({ r }) => why(r)), [], 'each says "already exists"');
  tt.same(losers.filter(({ c }) => fs.existsSync(c.pidFile)).map(({ c }) => c.pidFile), [], 'no loser wrote a pid file');

  // the winner is as its own create left it
  const s = state(id, root);
  tt.equal(s.status, 'created', "the winner's state survives the 19 others");
  tt.equal(s.bundle, winner.bundle.dir, "the winner's bundle");
  tt.equal(Number(readOr(winner.pidFile)), s.pid, "the winner's pid");
  tt.ok(pidAlive(s.pid), "the winner's init is alive");
  const list = JSON.parse(tsrun(['list', '--format', 'json'], { root }).stdout || '[]') as Array<{ id: string }>;
  tt.equal(list.filter((x) => x.id === id).length, 1, 'list shows one container with that id');

  const st = tsrun(['start', id], { root, stdoutFile: winner.out, stderrFile: winner.err });
  tt.equal(st.status, 0, why(st));
  tt.ok(
    waitFor(() => readOr(winner.out).includes(`mark-${w}`), 10_000),
    `the winner's process runs (out: ${JSON.stringify(readOr(winner.out))})`,
  );
  tt.same(
    losers.filter(({ c }) => /mark-/.test(readOr(c.out))).map(({ c }) => `${c.out}: ${readOr(c.out)}`),
    [],
    "no loser's process ran",
  );
  const d = tsrun(['delete', '--force', id], { root });
  tt.equal(d.status, 0, why(d));
  tt.same(
    ctrs.flatMap((c) => residue(id, root, { bundle: c.bundle.dir })),
    [],
    'nothing left of the container or of any of the 20 creates',
  );
});
