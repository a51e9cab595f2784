// A relative --root (and --log) is taken from the caller's working directory, as runc does
// (it makes the root absolute before anything else): every command run from that directory
// finds the container, and a create that fails leaves nothing there.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Bundle, BundleOptions, makeBundle } from '../helpers/bundle';
import { rootSuite, tempDir } from '../helpers/container';
import { cleanEnv, forceDelete, pidAlive, residue, tsrun, TsrunResult, uniqueId, waitFor } from '../helpers/tsrun';

rootSuite();
const RUNC = '/usr/sbin/runc';
const noRunc = !fs.existsSync(RUNC) && `${RUNC} is not installed (apt-get install runc)`;

function why(r: TsrunResult): string {
  return `${r.argv.slice(2).join(' ')} -> status ${r.status}; stderr: ${r.stderr.trim()}`;
}

interface Case {
  cwd: string;
  bundle: Bundle;
  id: string;
  /** Where a relative root "relroot" must be: <cwd>/relroot. */
  absRoot: string;
}

/** A temp working directory, a bundle and an id, all removed (container deleted) at teardown. */
function newCase(t: { teardown(fn: () => void): void }, opts: BundleOptions, remove: (id: string, root: string) => unknown = forceDelete): Case {
  const cwd = tempDir('tsrun-relroot-');
  const bundle = makeBundle(opts);
  const id = uniqueId('relroot');
  const absRoot = path.join(cwd.dir, 'relroot');
  t.teardown(() => {
    remove(id, absRoot);
    bundle.cleanup();
    cwd.remove();
  });
  return { cwd: cwd.dir, bundle, id, absRoot };
}

t.test('create/state/list/kill/delete with a relative --root, from the same working directory', async (t) => {
  const { cwd, bundle, id, absRoot } = newCase(t, { args: ['sleep', '1000'] });
  const cli = (args: string[]) => tsrun(args, { root: 'relroot', cwd });

  const created = cli(['create', '--bundle', bundle.dir, id]);
  if (!t.equal(created.status, 0, why(created))) return;
  t.equal(created.stderr, '');
  // Where runc puts it: <cwd>/relroot/<id>, with the state file written.
  t.ok(fs.existsSync(path.join(absRoot, id, 'state.json')), `state dir ${absRoot}/${id} has state.json`);

  const st = cli(['state', id]);
  t.equal(st.status, 0, why(st));
  const state = JSON.parse(st.stdout) as { status: string; pid: number; bundle: string };
  t.equal(state.status, 'created');
  t.equal(state.bundle, bundle.dir);
  t.ok(pidAlive(state.pid), `init ${state.pid} alive`);

  const list = cli(['list', '--format', 'json']);
  t.equal(list.status, 0, why(list));
  t.same((JSON.parse(list.stdout) as Array<{ id: string }>).map((c) => c.id), [id]);

  t.equal(cli(['start', id]).status, 0);
  t.ok(waitFor(() => JSON.parse(cli(['state', id]).stdout).status === 'running'), 'running after start');
  const killed = cli(['kill', id, 'KILL']);
  t.equal(killed.status, 0, why(killed));
  t.ok(waitFor(() => JSON.parse(cli(['state', id]).stdout).status === 'stopped'), 'stopped after kill');
  const deleted = cli(['delete', id]);
  t.equal(deleted.status, 0, why(deleted));
  t.same(residue(id, absRoot, { bundle: bundle.dir }), [], 'nothing left behind');
  t.same(fs.readdirSync(absRoot), [], 'the relative root is empty again');
});

t.test('a create that fails with a relative --root and --log leaves nothing, logs beside the caller', async (t) => {
  // The bind source is missing: the init fails after it was spawned.
  const { cwd, bundle, id, absRoot } = newCase(t, {
    mutate: (c) => c.mounts.push({ destination: '/x', type: 'bind', source: '/nonexistent-tsrun-relroot', options: ['bind'] }),
  });
  const r = tsrun(['run', '--bundle', bundle.dir, id], { root: 'relroot', cwd, globalArgs: ['--log', 'rel.log', '--log-format', 'json'] });
  t.equal(r.status, 1, why(r));
  t.match(r.stderr, /^tsrun: .*\/nonexistent-tsrun-relroot.*\n$/, 'one line naming the missing source');
  t.notMatch(r.stderr, /ENOENT|recovery\.json/, 'not a raw error about our own files');
  t.same(fs.readdirSync(absRoot), [], 'no state dir, no recovery.json');
  t.same(residue(id, absRoot, { bundle: bundle.dir }), []);
  const log = fs.readFileSync(path.join(cwd, 'rel.log'), 'utf8').trim().split('\n');
  t.match(JSON.parse(log[log.length - 1]), { level: 'error', msg: /nonexistent-tsrun-relroot/ }, 'the json log line is in <cwd>/rel.log');
});

t.test('NOTIFY_SOCKET with a relative --root: the notify directory is bound from the state dir', async (t) => {
  const { cwd, bundle, id, absRoot } = newCase(t, { args: ['sh', '-c', 'test -S "$NOTIFY_SOCKET" || exit 7'] });
  // The state dir's notify/ is a bind source: resolved against the bundle it would be missing.
  const env = cleanEnv({ NOTIFY_SOCKET: path.join(cwd, 'host-notify.sock') });
  const r = tsrun(['run', '--bundle', bundle.dir, id], { root: 'relroot', cwd, env });
  t.equal(r.status, 0, `the container saw its notify socket: ${why(r)}`);
  t.same(fs.readdirSync(absRoot), [], 'run deleted the container');
});

t.test('runc puts a relative --root in the same place', { skip: noRunc }, async (t) => {
  const { cwd, bundle, id } = newCase(t, { args: ['sleep', '1000'] }, (id, root) => spawnSync(RUNC, ['--root', root, 'delete', '--force', id]));
  const runc = (args: string[]) => spawnSync(RUNC, ['--root', 'relroot', ...args], { cwd, encoding: 'utf8' });
  // The container keeps runc's stdio open: no pipes for create.
  const errFile = path.join(cwd, 'create.err');
  const errFd = fs.openSync(errFile, 'w');
  const created = spawnSync(RUNC, ['--root', 'relroot', 'create', '--bundle', bundle.dir, id], { cwd, stdio: ['ignore', errFd, errFd] });
  fs.closeSync(errFd);
  if (!t.equal(created.status, 0, fs.readFileSync(errFile, 'utf8'))) return;
  t.ok(fs.existsSync(path.join(cwd, 'relroot', id, 'state.json')), 'runc: <cwd>/relroot/<id>/state.json');
  t.equal(JSON.parse(runc(['state', id]).stdout).status, 'created');
  t.equal(runc(['delete', '--force', id]).status, 0);
  t.same(fs.readdirSync(path.join(cwd, 'relroot')), [], 'runc: the relative root is empty again');
});
