// The container process's last steps (tsrun-stage, bindings/process-stage.c): everything
// that can fail fails `create`, never after `start` returned; seccomp kills end the
// container instead of leaving it hanging; a created container waits in a small
// single-threaded process. Build first (`npm run build`).
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import type { LinuxSeccomp } from '../../src/spec/types';
import { BundleConfig, makeBundle } from '../helpers/bundle';
import { lines, rootSuite } from '../helpers/container';
import { forceDelete, residue, state, tsrun, TsrunResult, uniqueId } from '../helpers/tsrun';

const root = rootSuite();

/** `tsrun VERB` on a fresh bundle (create or run), then delete --force and the residue check. */
function attempt(t: Test, verb: 'create' | 'run', mutate: (c: BundleConfig) => void, args = ['true']): TsrunResult & { ms: number } {
  const id = uniqueId('stage');
  const bundle = makeBundle({ args, mutate });
  const started = Date.now();
  try {
    const r = tsrun([verb, '--bundle', bundle.dir, id], { root, timeout: 30_000 });
    return { ...r, ms: Date.now() - started };
  } finally {
    forceDelete(id, root);
    t.same(residue(id, root, { bundle: bundle.dir }), [], 'nothing left behind');
    bundle.cleanup();
  }
}

const allowAllBut = (names: string[], action: LinuxSeccomp['defaultAction']): LinuxSeccomp => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names, action }],
});

t.test('a user switch that fails (seccomp denies setresuid, no no_new_privs) fails create', async (t) => {
  const r = attempt(t, 'create', (c) => {
    c.process.user = { uid: 1000, gid: 1000 };
    c.process.noNewPrivileges = false;
    c.linux.seccomp = allowAllBut(['setresuid'], 'SCMP_ACT_ERRNO');
  });
  t.equal(r.status, 1, 'create exits 1');
  t.equal(lines(r.stderr).length, 1, `one line: ${r.stderr}`);
  t.match(r.stderr, /process\.user\.uid 1000: setresuid: operation not permitted/);
  t.match(r.stderr, /seccomp/, 'and says the filter may be why');
});

t.test('seccomp SCMP_ACT_KILL on execve ends the container (no Node thread survives it)', async (t) => {
  const r = attempt(t, 'run', (c) => (c.linux.seccomp = allowAllBut(['execve'], 'SCMP_ACT_KILL')));
  t.equal(r.status, 128 + 31, `run exits 128+SIGSYS (${r.stderr})`);
  t.ok(r.ms < 10_000, `and promptly (${r.ms} ms)`);
  t.match(r.stderr, /killed by seccomp \(SIGSYS\)/);
});

// The filter is on before `start` is awaited, with or without no_new_privs (as runc).
t.test('a profile that kills everything: create fails and says seccomp, with or without no_new_privs', async (t) => {
  for (const noNewPrivileges of [false, true]) {
    const r = attempt(t, 'create', (c) => {
      c.process.noNewPrivileges = noNewPrivileges;
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_KILL' };
    });
    t.equal(r.status, 1, `noNewPrivileges ${noNewPrivileges}: create exits 1`);
    t.match(r.stderr, /killed by seccomp \(SIGSYS\)/);
    t.equal(lines(r.stderr).length, 1, `one line: ${r.stderr}`);
  }
});

t.test('a missing startContainer hook: start fails with one message naming it', async (t) => {
  const r = attempt(t, 'run', (c) => (c.hooks = { startContainer: [{ path: '/no/such/hook' }] }), ['echo', 'must-not-run']);
  t.equal(r.status, 1);
  t.equal(lines(r.stderr).length, 1, `one line: ${r.stderr}`);
  t.match(r.stderr, /hooks\.startContainer\[0\] \/no\/such\/hook: no such file or directory/);
  t.notMatch(r.stdout, /must-not-run/, 'the process did not run');
});

t.test('a created container waits in tsrun-stage: one thread, under 10 MB', async (t) => {
  const id = uniqueId('stage');
  const bundle = makeBundle({ args: ['true'] });
  try {
    const r = tsrun(['create', '--bundle', bundle.dir, id], { root });
    t.equal(r.status, 0, r.stderr);
    const pid = state(id, root).pid;
    t.match(fs.readlinkSync(`/proc/${pid}/exe`), /\/tsrun-stage$/);
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    t.equal(Number(/^Threads:\s+(\d+)/m.exec(status)![1]), 1, 'one thread');
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
    t.ok(rssKb < 10 * 1024, `resident ${rssKb} kB`);
    t.equal(/^NoNewPrivs:\s+(\d)/m.exec(status)![1], '1', 'no_new_privs is already set (noNewPrivileges: true)');
  } finally {
    forceDelete(id, root);
    t.same(residue(id, root, { bundle: bundle.dir }), []);
    bundle.cleanup();
  }
});

t.test('a small RLIMIT_AS binds the process, not tsrun (Node could not run under it)', async (t) => {
  const limit = 32 * 1024 * 1024;
  const r = attempt(t, 'run', (c) => (c.process.rlimits = [{ type: 'RLIMIT_AS', soft: limit, hard: limit }]), ['sh', '-c', 'ulimit -v']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.trim(), String(limit / 1024), 'the process runs under the limit');
  t.equal(r.stderr, '', 'nothing on stderr');
});
