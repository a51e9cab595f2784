// Typed errors (issue 14): the text stays runc's where engines grep it, and the JSON log
// line carries the error's kind ("kind": config, state, not-found, already-exists, host),
// also for an error found by the container init or exec-init, which crosses the control
// socket as a structured message (docs/errors.md).
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBundle } from '../helpers/bundle';
import { lastLine, stopTapSpawnHooks } from '../helpers/container';
import { forceDelete, freshRoot, residue, state, tsrun, uniqueId, waitFor } from '../helpers/tsrun';

stopTapSpawnHooks();
const root = freshRoot();
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-kinds-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

let n = 0;
/** Run tsrun with --log FILE --log-format json; the exit status, stderr and the last log line parsed. */
function run(args: string[]): { status: number | null; stderr: string; entry: Record<string, unknown> } {
  const log = path.join(work, `${++n}.log`);
  const r = tsrun(args, { root, globalArgs: ['--log', log, '--log-format', 'json'] });
  let entry: Record<string, unknown> = {};
  try {
    entry = JSON.parse(lastLine(log)) as Record<string, unknown>;
  } catch {
    // left empty: the assertions below say what is missing
  }
  return { status: r.status, stderr: r.stderr, entry };
}

function expectError(t: Test, r: ReturnType<typeof run>, text: string, kind: string): void {
  t.equal(r.status, 1, 'exit status 1');
  t.equal(r.stderr.trim().split('\n').length, 1, `one line on stderr: ${r.stderr}`);
  t.match(r.stderr, text, `stderr keeps the wording: ${text}`);
  t.equal(r.entry.level, 'error', 'JSON log error line');
  t.match(String(r.entry.msg), text, 'log msg keeps the wording');
  t.equal(r.entry.kind, kind, `log line kind ${kind}`);
}

t.test('state of an unknown container: not-found', async (t) => {
  expectError(t, run(['state', uniqueId('nx')]), 'container does not exist', 'not-found');
});

t.test('a bad container id: usage', async (t) => {
  expectError(t, run(['state', 'bad/id']), 'invalid container id', 'usage');
  expectError(t, run(['list', '--no-such-flag']), 'flag provided but not defined: --no-such-flag (see tsrun list --help)', 'usage');
});

t.test('an invalid config.json: config', async (t) => {
  const bundle = makeBundle({ mutate: (c) => (c.process!.cwd = 'relative') });
  t.teardown(() => bundle.cleanup());
  const id = uniqueId('cfg');
  expectError(t, run(['create', '--bundle', bundle.dir, id]), 'config.json: /process/cwd', 'config');
  t.same(residue(id, root), [], 'nothing left');
});

t.test('create with a taken id: already-exists; resume of a created container: state', async (t) => {
  const bundle = makeBundle({ args: ['/bin/sleep', '30'] });
  const id = uniqueId('dup');
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  t.equal(tsrun(['create', '--bundle', bundle.dir, id], { root }).status, 0, 'first create');
  expectError(t, run(['create', '--bundle', bundle.dir, id]), `container with id ${id} already exists`, 'already-exists');
  expectError(t, run(['resume', id]), 'container not paused', 'state');
});

t.test('an executable missing in the container, found by the init: not-found, across the control socket', async (t) => {
  const bundle = makeBundle({ args: ['no-such-program'] });
  t.teardown(() => bundle.cleanup());
  const id = uniqueId('noexe');
  const r = run(['create', '--bundle', bundle.dir, id]);
  expectError(t, r, 'executable file not found in $PATH', 'not-found');
  t.match(r.stderr, 'unable to start container process: exec: ', "runc's prefix");
  t.same(residue(id, root), [], 'nothing left');
});

t.test('exec of a missing executable, found by the exec-init: not-found', async (t) => {
  const bundle = makeBundle({ args: ['/bin/sleep', '30'] });
  const id = uniqueId('exe');
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  t.equal(tsrun(['run', '--detach', '--bundle', bundle.dir, id], { root }).status, 0, 'running');
  t.ok(waitFor(() => state(id, root).status === 'running'), 'running');
  expectError(t, run(['exec', id, 'no-such-program']), 'executable file not found in $PATH', 'not-found');
});

t.test('a failure of the host, found by the init: host', async (t) => {
  const bundle = makeBundle({ mutate: (c) => (c.linux.sysctl = { 'net.no.such.sysctl': '1' }) });
  t.teardown(() => bundle.cleanup());
  const id = uniqueId('host');
  expectError(t, run(['create', '--bundle', bundle.dir, id]), 'no such sysctl', 'host');
  t.same(residue(id, root), [], 'nothing left');
});
