// Joining an existing time namespace by path (linux.namespaces [{"type":"time","path":...}]).
// setns into a time namespace is refused in a multithreaded process (EUSERS): tsrun-userns
// joins it single-threaded before node runs, so the init and the container's process are in
// it, while the hooks run on the host's clocks. The namespace to join is made by util-linux
// `unshare --time` with monotonic and boottime offsets.
import t from 'tap';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BundleConfig } from '../helpers/bundle';
import { lines, rootSuite, runIn, tempDir } from '../helpers/container';
import { makeBundle } from '../helpers/bundle';
import { forceDelete, residue, state, tsrun, tsrunJs, TsrunResult, uniqueId, waitFor } from '../helpers/tsrun';

const root = rootSuite();
const MONOTONIC = 100000;
const BOOTTIME = 200000;
const noTimens = (!fs.existsSync('/proc/self/ns/time') && 'this kernel has no time namespaces')
  || (spawnSync('unshare', ['--time', '--monotonic', '1', 'true']).status !== 0 && 'unshare --time --monotonic (util-linux) does not work here')
  || (!fs.existsSync(path.resolve(__dirname, '../../dist/tsrun-userns')) && 'dist/tsrun-userns is missing (npm run build with a C compiler)');

function why(r: TsrunResult): string {
  return `${r.argv.slice(2).join(' ')} -> status ${r.status}; stderr: ${r.stderr.trim()}`;
}

/** A process in a new time namespace with our offsets; its ns file, removed (killed) at teardown. */
function timeNamespace(t: { teardown(fn: () => void): void }): { path: string; offsets: string } {
  const holder: ChildProcess = spawn('unshare', ['--time', '--monotonic', String(MONOTONIC), '--boottime', String(BOOTTIME), 'sleep', '1000'], { stdio: 'ignore' });
  t.teardown(() => {
    holder.kill('SIGKILL');
  });
  const own = fs.readlinkSync('/proc/self/ns/time');
  const file = `/proc/${holder.pid}/ns/time`;
  // unshare execs sleep, which then enters the new namespace.
  if (!waitFor(() => { try { return fs.readlinkSync(file) !== own; } catch { return false; } }, 10_000)) throw new Error('unshare --time did not start');
  return { path: file, offsets: fs.readFileSync(`/proc/${holder.pid}/timens_offsets`, 'utf8') };
}

/** Seconds of /proc/uptime (CLOCK_BOOTTIME, shifted by a time namespace's boottime offset). */
const uptime = (text: string) => Number(text.trim().split(/\s+/)[0]);

const HOST = 100000;
const withUserns = (c: BundleConfig) => {
  c.linux.namespaces!.push({ type: 'user' });
  c.linux.uidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
  c.linux.gidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
};

for (const userns of [false, true]) {
  t.test(`a time namespace joined by path${userns ? ', with a new user namespace' : ''}: the container sees its clocks, hooks the host's`, { skip: noTimens }, async (t) => {
    const ns = timeNamespace(t);
    const out = tempDir('tsrun-timens-');
    t.teardown(out.remove);
    fs.chmodSync(out.dir, 0o777);
    const hookFile = path.join(out.dir, 'hook-uptime');
    const r = runIn({
      root,
      args: ['sh', '-c', 'cat /proc/self/timens_offsets; echo uptime $(cat /proc/uptime)'],
      mutate: (c) => {
        c.linux.namespaces!.push({ type: 'time', path: ns.path });
        if (userns) withUserns(c);
        c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', `cat /proc/uptime > ${hookFile}`] }] };
      },
      prepare: (b) => {
        if (userns) fs.chmodSync(b.dir, 0o755);
      },
    });
    const hostUptime = uptime(fs.readFileSync('/proc/uptime', 'utf8'));
    t.equal(r.status, 0, why(r));
    t.equal(r.stderr, '');
    const printed = lines(r.stdout);
    t.same(printed.slice(0, -1).join('\n').trim(), ns.offsets.trim(), 'the container\'s timens_offsets are the joined namespace\'s');
    const inside = uptime((printed[printed.length - 1] ?? '').replace(/^uptime /, ''));
    t.ok(Math.abs(inside - hostUptime - BOOTTIME) < 60, `container uptime ${inside} = host ${hostUptime} + ${BOOTTIME}`);
    const hook = uptime(fs.readFileSync(hookFile, 'utf8'));
    t.ok(Math.abs(hook - hostUptime) < 60, `prestart hook uptime ${hook} is the host's ${hostUptime}`);
    t.same(r.residue, [], 'nothing left behind');
  });
}

t.test('exec into a container that joined a time namespace lands in it too', { skip: noTimens }, async (t) => {
  const ns = timeNamespace(t);
  const bundle = makeBundle({ args: ['sleep', '1000'], mutate: (c) => c.linux.namespaces!.push({ type: 'time', path: ns.path }) });
  const id = uniqueId('timens');
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  const created = tsrun(['run', '-d', '--bundle', bundle.dir, id], { root });
  if (!t.equal(created.status, 0, why(created))) return;
  const pid = state(id, root).pid;
  t.equal(fs.readlinkSync(`/proc/${pid}/ns/time`), fs.readlinkSync(ns.path), 'the container process is in the joined namespace');
  const e = tsrun(['exec', id, 'cat', '/proc/self/timens_offsets'], { root });
  t.equal(e.status, 0, why(e));
  t.equal(e.stdout.trim(), ns.offsets.trim());
  t.equal(tsrun(['delete', '--force', id], { root }).status, 0);
  t.same(residue(id, root, { bundle: bundle.dir }), []);
});

t.test('a time namespace path that is not a time namespace: one line, nothing left', { skip: noTimens }, async (t) => {
  for (const bad of ['/proc/self/ns/uts', os.tmpdir()]) {
    const r = runIn({ root, mutate: (c) => c.linux.namespaces!.push({ type: 'time', path: bad }) });
    t.equal(r.status, 1, why(r));
    t.match(r.stderr, new RegExp(`^tsrun: [^\\n]*time namespace[^\\n]*${bad.replace(/\//g, '\\/')}[^\\n]*\\n$`), `one line naming ${bad}`);
    t.same(r.residue, [], 'nothing left behind');
  }
});

const NOBODY = 65534;
const noSetpriv = spawnSync('setpriv', ['--version']).status !== 0 && 'setpriv (util-linux) is missing';

/** `argv` as uid/gid 65534 (no groups); output through files. */
function asNobody(argv: string[], cwd: string): TsrunResult {
  const out = tempDir('tsrun-timens-out-');
  try {
    const outFd = fs.openSync(path.join(out.dir, 'out'), 'w');
    const errFd = fs.openSync(path.join(out.dir, 'err'), 'w');
    const r = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', ...argv], {
      cwd, env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' }, stdio: ['ignore', outFd, errFd], timeout: 60_000, killSignal: 'SIGKILL',
    });
    fs.closeSync(outFd);
    fs.closeSync(errFd);
    const read = (f: string) => fs.readFileSync(path.join(out.dir, f), 'utf8');
    return { status: r.status, signal: r.signal, stdout: read('out'), stderr: read('err'), argv: ['setpriv', ...argv] };
  } finally {
    out.remove();
  }
}

t.test('rootless: a time namespace owned by the joined user namespace is joined after it; one the new user namespace may not join is one line', { skip: noTimens || noSetpriv }, async (t) => {
  // Made by an unprivileged user: the time namespace belongs to its user namespace.
  const holder = spawn('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', 'unshare', '-Ur', '--time', '--monotonic', String(MONOTONIC), 'sleep', '1000'], { stdio: 'ignore' });
  t.teardown(() => {
    holder.kill('SIGKILL');
  });
  const own = fs.readlinkSync('/proc/self/ns/time');
  const nsFile = `/proc/${holder.pid}/ns/time`;
  t.ok(waitFor(() => { try { return fs.readlinkSync(nsFile) !== own; } catch { return false; } }, 10_000), 'unshare -Ur --time started');
  const offsets = fs.readFileSync(`/proc/${holder.pid}/timens_offsets`, 'utf8');
  const stateRoot = tempDir('tsrun-timens-root-');
  t.teardown(stateRoot.remove);
  fs.chownSync(stateRoot.dir, NOBODY, NOBODY);

  for (const joinUser of [true, false]) {
    const bundle = makeBundle({ args: ['cat', '/proc/self/timens_offsets'] });
    t.teardown(() => bundle.cleanup());
    fs.chmodSync(bundle.dir, 0o755);
    fs.chownSync(bundle.dir, NOBODY, NOBODY);
    fs.rmSync(bundle.configPath);
    const spec = asNobody([process.execPath, tsrunJs, 'spec', '--rootless'], bundle.dir);
    if (!t.equal(spec.status, 0, why(spec))) return;
    const config = JSON.parse(fs.readFileSync(bundle.configPath, 'utf8')) as BundleConfig;
    config.root = { path: bundle.rootfs, readonly: true };
    config.process.args = bundle.config.process.args;
    config.process.terminal = false;
    config.linux.namespaces!.push({ type: 'time', path: nsFile });
    if (joinUser) {
      config.linux.namespaces = config.linux.namespaces!.map((ns) => (ns.type === 'user' ? { type: 'user', path: `/proc/${holder.pid}/ns/user` } : ns));
      delete config.linux.uidMappings;
      delete config.linux.gidMappings;
    }
    fs.writeFileSync(bundle.configPath, JSON.stringify(config));
    const id = uniqueId('timens');
    const r = asNobody([process.execPath, tsrunJs, '--root', stateRoot.dir, 'run', '--bundle', bundle.dir, id], bundle.dir);
    if (joinUser) {
      t.equal(r.status, 0, why(r));
      t.equal(r.stdout.trim(), offsets.trim(), 'the container is in the joined time namespace');
    } else {
      // A new user namespace has no say over a namespace of another one (EPERM).
      t.equal(r.status, 1, why(r));
      t.match(r.stderr, /^tsrun: [^\n]*time namespace[^\n]*\n$/, 'one line about the time namespace');
    }
    t.same(fs.readdirSync(stateRoot.dir), [], 'no state left');
    t.same(residue(id, stateRoot.dir, { bundle: bundle.dir }), [], 'nothing left behind');
  }
});
