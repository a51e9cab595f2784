// linux.seccomp in real containers (root): the filter is on (Seccomp: 2), actions, errno
// values, argument comparisons, the Docker and podman default profiles, unknown names, and
// profiles `create` must refuse. Build first (`npm run build`).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { BundleConfig } from '../helpers/bundle';
import { makeBundle } from '../helpers/bundle';
import { forceDelete, residue, tsrun, TsrunResult, uniqueId } from '../helpers/tsrun';
import { rootSuite } from '../helpers/container';
import type { LinuxSeccomp } from '../../src/spec/types';

const root = rootSuite();

type T = tap.Test;
const sh = (script: string): string[] => ['sh', '-c', script];
const fixtures = path.join(__dirname, '..', 'fixtures', 'engine-configs');
const engineProfile = (file: string): LinuxSeccomp =>
  (JSON.parse(fs.readFileSync(path.join(fixtures, file), 'utf8')) as { linux: { seccomp: LinuxSeccomp } }).linux.seccomp;

/** A writable /tmp (tmpfs): the shared rootfs must not be written to. */
function withTmp(config: BundleConfig): void {
  config.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] });
}

/** Run sh -c SCRIPT with the given profile (`tsrun run`); expects a clean exit and no residue. */
function run(t: T, script: string, seccomp: LinuxSeccomp | undefined, mutate?: (c: BundleConfig) => void): TsrunResult {
  const id = uniqueId('scmp');
  const bundle = makeBundle({
    args: sh(script),
    mutate: (c) => {
      withTmp(c);
      if (seccomp) c.linux.seccomp = seccomp;
      mutate?.(c);
    },
  });
  try {
    const r = tsrun(['run', '--bundle', bundle.dir, id], { root });
    forceDelete(id, root);
    t.equal(r.status, 0, `run ${id}: status ${r.status}${r.signal ? ` (${r.signal})` : ''}; stderr: ${r.stderr.trim()}`);
    t.same(residue(id, root, { bundle: bundle.dir }), [], 'nothing left after the run');
    return r;
  } finally {
    bundle.cleanup();
  }
}

const allowExcept = (names: string[], action: LinuxSeccomp['defaultAction'], errnoRet?: number): LinuxSeccomp => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  syscalls: [{ names, action, ...(errnoRet === undefined ? {} : { errnoRet }) }],
});

t.test('the filter is on: /proc/self/status shows Seccomp: 2', async (t) => {
  const r = run(t, 'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status', { defaultAction: 'SCMP_ACT_ALLOW' });
  t.match(r.stdout, /^Seccomp:\s+2$/m);
  const none = run(t, 'grep "^Seccomp:" /proc/self/status', undefined);
  t.match(none.stdout, /^Seccomp:\s+0$/m, 'no linux.seccomp, no filter');
});

t.test('SCMP_ACT_ERRNO: errnoRet 1 (and the EPERM default) and 38', async (t) => {
  const script = 'mkdir /tmp/x; echo "status $?"; ls -d /tmp/x 2>&1; true';
  const plain = run(t, script, undefined);
  t.match(plain.stdout, /status 0/, 'control: mkdir works without a filter');
  for (const errnoRet of [1, undefined]) {
    const r = run(t, script, allowExcept(['mkdir', 'mkdirat'], 'SCMP_ACT_ERRNO', errnoRet));
    t.match(r.stderr + r.stdout, /Operation not permitted/, `errnoRet ${errnoRet}`);
    t.match(r.stdout, /status 1/);
    t.match(r.stdout, /No such file or directory/, 'nothing was made');
  }
  const enosys = run(t, script, allowExcept(['mkdir', 'mkdirat'], 'SCMP_ACT_ERRNO', 38));
  t.match(enosys.stderr + enosys.stdout, /Function not implemented/);
});

t.test('defaultAction ERRNO with defaultErrnoRet, and allowed calls', async (t) => {
  // Everything but a few calls fails with EACCES: only the listed syscalls work.
  const docker = engineProfile('docker-config.json');
  const seccomp: LinuxSeccomp = { ...docker, defaultErrnoRet: 13 };
  const r = run(t, 'hostname seccomp-test; echo "status $?"', seccomp, (c) => {
    for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities![set]!.push('CAP_SYS_ADMIN');
  });
  t.match(r.stderr, /Permission denied/, 'sethostname: EACCES from defaultErrnoRet');
  t.match(r.stdout, /status 1/);
});

t.test('SCMP_ACT_KILL_PROCESS kills with SIGSYS; LOG, TRAP and flags load', async (t) => {
  const killed = run(t, 'mkdir /tmp/x; echo "status $?"', allowExcept(['mkdir', 'mkdirat'], 'SCMP_ACT_KILL_PROCESS'));
  t.match(killed.stdout, /status 159/, '128 + SIGSYS');
  const trapped = run(t, 'mkdir /tmp/x; echo "status $?"', allowExcept(['mkdir', 'mkdirat'], 'SCMP_ACT_TRAP'));
  t.match(trapped.stdout, /status 159/, 'SIGSYS from TRAP');
  const logged = run(t, 'mkdir /tmp/x && echo made', {
    ...allowExcept(['mkdir', 'mkdirat'], 'SCMP_ACT_LOG'),
    flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
  });
  t.match(logged.stdout, /made/, 'LOG allows');
});

t.test('args: personality blocked only for PER_LINUX32; kill only for signal 0', async (t) => {
  const seccomp: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [{ index: 1, value: 0, op: 'SCMP_CMP_EQ' }] },
      // chmod/fchmodat: blocked when the mode has the setuid bit (mode & 0o4000 == 0o4000)
      { names: ['chmod'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0o4000, valueTwo: 0o4000, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['fchmodat'], action: 'SCMP_ACT_ERRNO', args: [{ index: 2, value: 0o4000, valueTwo: 0o4000, op: 'SCMP_CMP_MASKED_EQ' }] },
    ],
  };
  const r = run(t, [
    'linux64 true; echo "linux64 $?"',
    'linux32 true; echo "linux32 $?"',
    'kill -0 1; echo "kill0 $?"',
    'kill -CONT 1; echo "kill18 $?"',
    'touch /tmp/f; chmod 755 /tmp/f; echo "chmod755 $?"; chmod 4755 /tmp/f; echo "chmod4755 $?"',
  ].join('; '), seccomp);
  t.match(r.stdout, /linux64 0/);
  t.match(r.stdout, /linux32 1/);
  t.match(r.stdout, /kill0 1/);
  t.match(r.stderr, /Function not implemented/, 'kill -0: errnoRet 38');
  t.match(r.stdout, /kill18 0/);
  t.match(r.stdout, /chmod755 0/);
  t.match(r.stdout, /chmod4755 1/);
});

t.test('Docker default profile: sh works, sethostname is refused (with CAP_SYS_ADMIN)', async (t) => {
  const addSysAdmin = (c: BundleConfig): void => {
    for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities![set]!.push('CAP_SYS_ADMIN');
    c.process.noNewPrivileges = false; // as Docker runs containers by default
  };
  const script = 'echo ok; hostname seccomp-test; echo "hostname $?"; grep "^Seccomp:" /proc/self/status';
  const control = run(t, script, undefined, addSysAdmin);
  t.match(control.stdout, /hostname 0/, 'control: sethostname works without the filter');
  const r = run(t, script, engineProfile('docker-config.json'), addSysAdmin);
  t.match(r.stdout, /^ok$/m);
  t.match(r.stdout, /hostname 1/);
  t.match(r.stderr, /Operation not permitted/);
  t.match(r.stdout, /^Seccomp:\s+2$/m);
});

t.test('podman default profile: sh works, sethostname is refused', async (t) => {
  const r = run(t, 'echo ok; hostname seccomp-test; echo "hostname $?"', engineProfile('podman-config.json'), (c) => {
    for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities![set]!.push('CAP_SYS_ADMIN');
  });
  t.match(r.stdout, /^ok$/m);
  t.match(r.stdout, /hostname 1/);
  t.match(r.stderr, /Operation not permitted/);
});

t.test('unknown syscall names are skipped', async (t) => {
  const r = run(t, 'mkdir /tmp/x; echo "status $?"', allowExcept(['no_such_syscall_at_all', 'mkdir', 'mkdirat'], 'SCMP_ACT_ERRNO'));
  t.match(r.stdout, /status 1/, 'the known names still apply');
});

/** `create` must fail (exit 1, message matching `msg`) and leave nothing behind. */
function createFails(t: T, seccomp: unknown, msg: RegExp): void {
  const id = uniqueId('scmp');
  const bundle = makeBundle({ mutate: (c) => { c.linux.seccomp = seccomp as LinuxSeccomp; } });
  try {
    const r = tsrun(['create', '--bundle', bundle.dir, id], { root });
    t.equal(r.status, 1, `create fails: ${r.stderr.trim()}`);
    t.match(r.stderr, msg);
    forceDelete(id, root);
    t.same(residue(id, root, { bundle: bundle.dir }), [], 'nothing left');
  } finally {
    bundle.cleanup();
  }
}

t.test('create refuses bad profiles', async (t) => {
  createFails(t, { defaultAction: 'SCMP_ACT_BOGUS' }, /seccomp|SCMP_ACT_BOGUS/);
  createFails(t, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOPE' }] }, /SCMP_ACT_NOPE|action/);
  createFails(t, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }, /SCMP_ACT_NOTIFY needs linux\.seccomp\.listenerPath/);
  createFails(t, { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/seccomp.sock' }, /SCMP_ACT_NOTIFY cannot be the default action/);
  createFails(t, { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/no-such-tsrun-listener.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] },
    /linux\.seccomp\.listenerPath: connecting to \/run\/no-such-tsrun-listener\.sock/);
  createFails(t, { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/l.sock', syscalls: [{ names: ['sendmsg'], action: 'SCMP_ACT_NOTIFY' }] }, /cannot be used for sendmsg/);
  createFails(t, { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }, /SCMP_ARCH_VAX is not an architecture libseccomp knows/);
  createFails(t, { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NO_SUCH_FLAG'] }, /SECCOMP_FILTER_FLAG_NO_SUCH_FLAG" is not supported/);
});

// ---------------------------------------------------------------- SCMP_ACT_NOTIFY
const LISTENER = path.join(__dirname, '..', 'fixtures', 'seccomp-listener.py');
const EXDEV = 18;

interface ListenerRecord {
  fds: number;
  state: { ociVersion: string; fds: string[]; pid: number; metadata?: string; state: Record<string, unknown> };
  proc: string;
  notifications: number[];
}

/** Start the python agent (COUNT connections, answers EXDEV); resolves once it listens. */
async function startListener(count: number): Promise<{ sock: string; done: () => Promise<ListenerRecord[]> }> {
  const dir = fs.mkdtempSync(path.join(root, 'listener-'));
  const sock = path.join(dir, 'agent.sock');
  const out = path.join(dir, 'out.jsonl');
  const child = spawn('python3', [LISTENER, sock, out, String(count), String(EXDEV)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`listener exited with ${code}`)));
  });
  return {
    sock,
    done: async () => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      if (code !== 0) throw new Error(`listener exited with ${code}`);
      return fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ListenerRecord);
    },
  };
}

const notifyProfile = (sock: string): LinuxSeccomp => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  listenerPath: sock,
  listenerMetadata: 'MKNOD=/dev/null;test',
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
});
const MKDIR_NRS = process.arch === 'x64' ? [83, 258] : [34];

t.test('SCMP_ACT_NOTIFY: the listener gets the fd and the state, and answers mkdir', async (t) => {
  for (const noNewPrivileges of [true, false]) {
    const listener = await startListener(1);
    const r = run(t, 'mkdir /tmp/x; echo "status $?"; ls -d /tmp/x 2>&1; true', notifyProfile(listener.sock), (c) => {
      c.process.noNewPrivileges = noNewPrivileges;
      c.annotations = { 'org.tsrun.test': 'notify' };
    });
    const [rec] = await listener.done();
    t.match(r.stdout + r.stderr, /Invalid cross-device link/, `nnp=${noNewPrivileges}: mkdir got the listener's EXDEV`);
    t.match(r.stdout, /status 1/);
    t.match(r.stdout, /No such file or directory/, 'nothing was made');
    t.equal(rec.fds, 1, 'one fd (SCM_RIGHTS)');
    t.same(rec.state.fds, ['seccompFd']);
    t.equal(rec.state.metadata, 'MKNOD=/dev/null;test');
    t.equal(rec.state.ociVersion, '1.3.0', 'the runtime-spec version tsrun implements');
    t.match(rec.state.state, { status: 'creating', annotations: { 'org.tsrun.test': 'notify' } });
    t.match(String(rec.state.state.id), /^scmp-/);
    t.equal(rec.state.state.pid, rec.state.pid, 'state.pid: the init');
    t.ok(path.isAbsolute(String(rec.state.state.bundle)) && fs.existsSync(path.join(String(rec.state.state.bundle), 'config.json')) === false,
      'bundle: an absolute path (removed by now)');
    t.match(rec.proc, /^NSpid:\s+\d+\s+1$/m, 'pid is the host pid of the container\'s pid 1');
    t.match(rec.proc, /^Seccomp:\s+2$/m, 'its filter was on when the listener got the fd');
    t.ok(rec.notifications.length >= 1 && rec.notifications.every((nr) => MKDIR_NRS.includes(nr)), `notified: ${rec.notifications}`);
  }
});

t.test('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (runtime-spec 1.2): with a listener, and alone', async (t) => {
  const listener = await startListener(1);
  const flags = ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV' as const];
  const r = run(t, 'mkdir /tmp/x; echo "status $?"', { ...notifyProfile(listener.sock), flags });
  await listener.done();
  t.match(r.stdout + r.stderr, /Invalid cross-device link/, 'the listener answered mkdir');
  // Without NOTIFY rules there is no listener: the flag has nothing to act on (and must not fail).
  const alone = run(t, 'echo ran', { defaultAction: 'SCMP_ACT_ALLOW', flags, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
  t.match(alone.stdout, /ran/, `${alone.stderr}`);
});

t.test('SCMP_ACT_NOTIFY: exec sends its own fd and the running state', async (t) => {
  const listener = await startListener(2);
  const id = uniqueId('scmp');
  const bundle = makeBundle({ args: ['sleep', '1000'], mutate: (c) => { withTmp(c); c.linux.seccomp = notifyProfile(listener.sock); } });
  try {
    const r = tsrun(['run', '-d', '--bundle', bundle.dir, id], { root });
    t.equal(r.status, 0, `run -d: ${r.stderr.trim()}`);
    const e = tsrun(['exec', id, 'sh', '-c', 'mkdir /tmp/y; echo "status $?"'], { root });
    t.equal(e.status, 0, `exec: ${e.stderr.trim()}`);
    t.match(e.stdout + e.stderr, /Invalid cross-device link/);
    t.match(e.stdout, /status 1/);
    tsrun(['kill', id, 'KILL'], { root });
  } finally {
    forceDelete(id, root);
    bundle.cleanup();
  }
  const recs = await listener.done();
  const init = recs.find((x) => x.state.state.status === 'creating');
  const exec = recs.find((x) => x.state.state.status === 'running');
  t.ok(init && exec, `one connection each from the init and the exec: ${recs.map((x) => x.state.state.status)}`);
  t.equal(exec!.state.state.pid, init!.state.pid, 'exec: state.pid is the init');
  t.not(exec!.state.pid, init!.state.pid, 'exec: pid is the exec\'d process');
  t.equal(exec!.state.state.id, id);
  t.ok(exec!.notifications.length >= 1, 'the exec\'d mkdir was answered');
  t.same(init!.notifications, [], 'sleep made no mkdir');
});

t.test('listenerPath without a NOTIFY rule is ignored', async (t) => {
  run(t, 'true', { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/no-such-tsrun-listener.sock' });
});

t.test('the program kept in /var/cache/tsrun/seccomp: reused, and ignored when it is not root\'s alone or damaged', async (t) => {
  const dir = '/var/cache/tsrun/seccomp';
  // A profile of its own (an errno picked at random), so that its entry is new and ours.
  const errno = 100 + Math.floor(Math.random() * 3900);
  const profile = allowExcept(['mkdir', 'mkdirat'], 'SCMP_ACT_ERRNO', errno);
  const script = 'mkdir /tmp/x; echo "mkdir $?"; grep "^Seccomp:" /proc/self/status';
  const before = new Set(fs.existsSync(dir) ? fs.readdirSync(dir) : []);
  const withDebug = (): TsrunResult => {
    const id = uniqueId('scmpc');
    const bundle = makeBundle({ args: sh(script), mutate: (c) => { withTmp(c); c.linux.seccomp = profile; } });
    try {
      const r = tsrun(['--debug', 'run', '--bundle', bundle.dir, id], { root });
      forceDelete(id, root);
      t.equal(r.status, 0, r.stderr);
      t.match(r.stdout, /^mkdir 1$/m, 'mkdir is denied');
      t.match(r.stdout, /^Seccomp:\s+2$/m);
      t.same(residue(id, root, { bundle: bundle.dir }), []);
      return r;
    } finally {
      bundle.cleanup();
    }
  };
  t.notMatch(withDebug().stderr, /program from/, 'built the first time');
  // New entries may come from other tests running meanwhile: ours returns SECCOMP_RET_ERRNO | errno.
  const ret = Buffer.alloc(4);
  ret.writeUInt32LE(0x00050000 + errno);
  const ours = fs.readdirSync(dir).filter((f) => !before.has(f)).filter((f) => {
    try {
      return Buffer.from((JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { bpf: string }).bpf, 'base64').includes(ret);
    } catch {
      return false;
    }
  });
  t.equal(ours.length, 1, 'one program kept');
  const file = path.join(dir, ours[0]);
  t.teardown(() => fs.rmSync(file, { force: true }));
  const st = fs.statSync(file);
  t.equal(st.uid, 0);
  t.equal(st.mode & 0o077, 0, 'readable by root only');
  t.match(withDebug().stderr, /seccomp: program from \/var\/cache\/tsrun\/seccomp\//, 'reused the second time');
  // The file name is a fast hash: an entry under it made for another key (a collision, or
  // another profile's program copied there) must not be used.
  const entry = JSON.parse(fs.readFileSync(file, 'utf8')) as { key: string };
  t.match(entry.key, /"profile":/, 'the entry holds its whole key');
  fs.writeFileSync(file, JSON.stringify({ ...entry, key: entry.key.replace('"profile":', '"profile" :') }));
  t.notMatch(withDebug().stderr, /program from/, 'an entry for another key is not used');
  fs.chmodSync(file, 0o666);
  t.notMatch(withDebug().stderr, /program from/, 'a kept program others may write is not used');
  fs.chmodSync(file, 0o600);
  fs.writeFileSync(file, '{"bpf":"AAAA","flags":0,"unknown":[]}');
  t.notMatch(withDebug().stderr, /program from/, 'a damaged one (not whole instructions) is not used');
  fs.writeFileSync(file, 'not json');
  t.notMatch(withDebug().stderr, /program from/, 'nor one that is not JSON');
  t.match(withDebug().stderr, /program from/, 'and the one written instead is used again');
});
