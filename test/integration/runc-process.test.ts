// Issue 12, the container process as runc makes it (real containers, as root; compared with
// runc where it is installed): who owns the pty and stdio pipes, where and when hooks run and
// what state they get, `kill ID 0`, and the defaults of `exec --process`.
// Build first (`npm run build`).
import t, { Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Bundle, BundleConfig, makeBundle } from '../helpers/bundle';
import { readOr, rootSuite, tempDir, tsrunAsync } from '../helpers/container';
import { cleanEnv, forceDelete, residue, state, tsrun, tsrunJs, TsrunResult, uniqueId, waitFor } from '../helpers/tsrun';

const root = rootSuite();
const work = tempDir('tsrun-runc-process-');
t.teardown(work.remove);

const RUNC = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc'].find((p) => fs.existsSync(p));
const runcRoot = path.join(work.dir, 'runc-root');

/** `runc --root R ARGS` with stdout/stderr in files (a detached container keeps them open). */
function runc(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const dir = fs.mkdtempSync(path.join(work.dir, 'runc-out-'));
  const out = fs.openSync(path.join(dir, 'out'), 'w');
  const err = fs.openSync(path.join(dir, 'err'), 'w');
  try {
    const r = spawnSync(RUNC!, ['--root', runcRoot, ...args], { input, stdio: [input === undefined ? 'ignore' : 'pipe', out, err], timeout: 60_000 });
    return { status: r.status, stdout: readOr(path.join(dir, 'out')), stderr: readOr(path.join(dir, 'err')) };
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
}

/** Both runtimes, or only tsrun (saying why) when runc is missing. */
function runtimes(t: Test): Array<'tsrun' | 'runc'> {
  if (!RUNC) t.test('the same with runc', { skip: 'runc is not installed' }, () => undefined);
  return RUNC ? ['tsrun', 'runc'] : ['tsrun'];
}

function call(rt: 'tsrun' | 'runc', args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  return rt === 'tsrun' ? tsrun(args, { root, input }) : runc(args, input);
}

function why(r: { status: number | null; stdout: string; stderr: string }): string {
  return `status ${r.status}; stdout: ${r.stdout.trim()}; stderr: ${r.stderr.trim()}`;
}

/** A detached `sleep` container of `rt`, removed at teardown. */
function sleeper(t: Test, rt: 'tsrun' | 'runc', mutate?: (c: BundleConfig) => void): { id: string; bundle: Bundle } {
  const id = uniqueId(`rp-${rt}`);
  const bundle = makeBundle({ args: ['sleep', '1000'], mutate });
  t.teardown(() => {
    call(rt, ['delete', '--force', id]);
    bundle.cleanup();
  });
  const r = call(rt, ['run', '-d', '--bundle', bundle.dir, id]);
  if (r.status !== 0) throw new Error(`${rt} run -d: ${why(r)}`);
  return { id, bundle };
}

// ---------------------------------------------------------------- kill ID 0

t.test('kill ID 0 checks that the init is alive, as runc', async (t) => {
  for (const rt of runtimes(t)) {
    const { id } = sleeper(t, rt);
    const alive = call(rt, ['kill', id, '0']);
    t.equal(alive.status, 0, `${rt}: kill 0 of a running container: ${why(alive)}`);
    t.equal(alive.stderr, '', `${rt}: nothing said`);
    t.equal(JSON.parse(call(rt, ['state', id]).stdout).status, 'running', `${rt}: signal 0 changed nothing`);
    call(rt, ['kill', id, 'KILL']);
    t.ok(waitFor(() => JSON.parse(call(rt, ['state', id]).stdout).status === 'stopped', 20_000), `${rt}: stopped`);
    const dead = call(rt, ['kill', id, '0']);
    t.equal(dead.status, 1, `${rt}: kill 0 of a stopped container: ${why(dead)}`);
    t.match(dead.stderr, /container not running/, `${rt}: runc's message`);
    if (rt === 'tsrun') t.match(dead.stderr, /^tsrun: container not running\n$/, 'one line');
  }
});

// ---------------------------------------------------------------- exec --process defaults

t.test('exec --process: an omitted user is root, an omitted env is empty, cwd is required (as runc)', async (t) => {
  const files = {
    minimal: { args: ['/bin/sh', '-c', 'id -u; id -g; env | sort'], cwd: '/' },
    uidOnly: { args: ['/bin/sh', '-c', 'id -u; id -g'], cwd: '/', user: { uid: 1000 } },
    noPath: { args: ['sh', '-c', 'true'], cwd: '/' },
    noCwd: { args: ['/bin/true'] },
  };
  const out: Record<string, Record<string, { status: number | null; stdout: string; stderr: string }>> = {};
  for (const rt of runtimes(t)) {
    const { id, bundle } = sleeper(t, rt);
    out[rt] = {};
    for (const [name, proc] of Object.entries(files)) {
      const file = path.join(bundle.dir, `${name}.json`);
      fs.writeFileSync(file, JSON.stringify(proc));
      out[rt][name] = call(rt, ['exec', '--process', file, id]);
    }
  }
  const ts = out.tsrun;
  t.equal(ts.minimal.status, 0, why(ts.minimal));
  t.match(ts.minimal.stdout, /^0\n0\n/, 'user 0:0');
  t.match(ts.minimal.stdout, /^HOME=\/root$/m, 'HOME from /etc/passwd');
  t.notMatch(ts.minimal.stdout, /^TERM=/m, 'no env of config.json');
  t.equal(ts.uidOnly.status, 0, why(ts.uidOnly));
  t.equal(ts.uidOnly.stdout, '1000\n0\n', 'gid 0 when omitted');
  t.equal(ts.noPath.status, 1, why(ts.noPath));
  t.match(ts.noPath.stderr, /executable file not found in \$PATH/, 'no PATH: a bare name is not found');
  t.equal(ts.noCwd.status, 1, why(ts.noCwd));
  t.match(ts.noCwd.stderr, /^tsrun: .*noCwd\.json: .*"cwd"\n$/, 'one line naming the file and cwd');
  if (out.runc) {
    for (const name of ['minimal', 'uidOnly'] as const) {
      t.equal(ts[name].stdout, out.runc[name].stdout, `${name}: the same output as runc`);
    }
    for (const name of ['noPath', 'noCwd'] as const) t.not(out.runc[name].status, 0, `${name}: runc fails too`);
  }
});

// ---------------------------------------------------------------- stdio ownership

const USER = { uid: 1000, gid: 1000 };

t.test('the pty belongs to the process user (gid tty from the devpts mount), run and exec -t', async (t) => {
  const probe = 'stat -c "%u:%g %a" $(tty)';
  const id = uniqueId('rp-tty');
  const bundle = makeBundle({
    args: ['sh', '-c', probe],
    mutate: (c) => {
      c.process.terminal = true;
      c.process.user = { ...USER };
    },
  });
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  const r = tsrun(['run', '--bundle', bundle.dir, id], { root });
  t.equal(r.status, 0, why(r));
  t.match(r.stdout, /^1000:5 620\r$/m, 'run, terminal: true');

  const { id: sid } = sleeper(t, 'tsrun');
  const e = tsrun(['exec', '-t', '--user', '1000:1000', sid, 'sh', '-c', probe], { root, input: '' });
  t.equal(e.status, 0, why(e));
  t.match(e.stdout, /^1000:5 620\r$/m, 'exec -t');
});

t.test('stdio pipes belong to the process user (it can reopen /dev/stdout), host files keep their owner', async (t) => {
  const probe = 'stat -L -c %u /proc/self/fd/1; echo reopened > /dev/stdout';
  const outputs: Record<string, string> = {};
  for (const rt of runtimes(t)) {
    const { id } = sleeper(t, rt);
    const argv = rt === 'tsrun' ? [process.execPath, tsrunJs, '--root', root] : [RUNC!, '--root', runcRoot];
    // Through `| cat`: stdout is a real pipe (Node's own 'pipe' stdio is a socket pair).
    const r = spawnSync('sh', ['-c', '"$@" | cat', 'sh', ...argv, 'exec', '--user', '1000:1000', id, 'sh', '-c', probe], {
      env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 60_000,
    });
    t.equal(r.status, 0, `${rt}: ${r.stderr}`);
    outputs[rt] = r.stdout;
  }
  t.equal(outputs.tsrun, '1000\nreopened\n', 'the pipe is the user\'s');
  if (outputs.runc !== undefined) t.equal(outputs.tsrun, outputs.runc, 'as with runc');

  // A regular file of the host given as stdout is not handed to the container's user.
  const { id } = sleeper(t, 'tsrun');
  const file = path.join(work.dir, 'host-stdout');
  fs.writeFileSync(file, '');
  const r = tsrun(['exec', '--user', '1000:1000', id, 'sh', '-c', 'stat -L -c %u /proc/self/fd/1'], { root, stdoutFile: file });
  t.equal(r.status, 0, why(r));
  t.equal(r.stdout, '0\n');
  t.equal(fs.statSync(file).uid, 0, 'still root\'s');
});

// ---------------------------------------------------------------- hooks

/** A bundle whose hooks log into <dir>/log (bound at /hooklog for those in the container). */
function hookBundle(dir: string, hooks: (log: string) => BundleConfig['hooks'], mutate?: (c: BundleConfig) => void, args = ['true']): Bundle {
  const log = path.join(dir, 'log');
  return makeBundle({
    args,
    mutate: (c) => {
      c.mounts.push({ destination: '/hooklog', type: 'bind', source: dir, options: ['rbind', 'rw'] });
      c.hooks = hooks(log);
      mutate?.(c);
    },
  });
}

const HOST_HOOK = path.join(work.dir, 'hook.sh');
// "<name> <cwd> <state JSON>", one line per call; exits with $3 (default 0).
fs.writeFileSync(HOST_HOOK, '#!/bin/sh\nstate=$(cat)\necho "$1 $(pwd) $state" >> "$2"\nexit ${3:-0}\n', { mode: 0o755 });

function hookLog(file: string): Record<string, { cwd: string; state: Record<string, unknown> }> {
  const out: Record<string, { cwd: string; state: Record<string, unknown> }> = {};
  for (const line of readOr(file).split('\n').filter(Boolean)) {
    const [name, cwd, ...rest] = line.split(' ');
    out[name] = { cwd, state: rest.length ? JSON.parse(rest.join(' ')) as Record<string, unknown> : {} };
  }
  return out;
}

t.test('hook states carry tsrun\'s spec version; createContainer runs at the container root, startContainer in the process cwd and env', async (t) => {
  const dir = fs.mkdtempSync(path.join(work.dir, 'h-'));
  const host = (name: string, log: string) => [{ path: HOST_HOOK, args: ['hook.sh', name, log] }];
  const bundle = hookBundle(dir, (log) => ({
    prestart: host('prestart', log),
    createRuntime: host('createRuntime', log),
    createContainer: host('createContainer', log),
    startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'echo "$(pwd) $MARKER $(cat)" >> /hooklog/start'] }],
    poststart: host('poststart', log),
  }), (c) => {
    c.ociVersion = '1.0.2';
    c.process.cwd = '/bin';
    c.process.env!.push('MARKER=from-the-process-env');
  });
  const id = uniqueId('rp-hooks');
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  const r = tsrun(['run', '--bundle', bundle.dir, id], { root });
  t.equal(r.status, 0, why(r));
  const features = JSON.parse(tsrun(['features'], { root }).stdout) as { ociVersionMax: string };
  const log = hookLog(path.join(dir, 'log'));
  for (const name of ['prestart', 'createRuntime', 'createContainer', 'poststart']) {
    t.equal(log[name]?.state.ociVersion, features.ociVersionMax, `${name}: the runtime's spec version, not config.json's 1.0.2`);
  }
  t.match(log.prestart.state, { status: 'creating', id, bundle: bundle.dir }, 'prestart: creating');
  t.ok(Number(log.prestart.state.pid) > 1, 'prestart: the init\'s host pid');
  t.equal(log.createContainer.cwd, fs.realpathSync(bundle.rootfs), 'createContainer: cwd is the container\'s root (runc)');
  const [cwd, marker, ...rest] = readOr(path.join(dir, 'start')).trim().split(' ');
  t.equal(cwd, '/bin', 'startContainer: the process cwd');
  t.equal(marker, 'from-the-process-env', 'startContainer: the process env');
  t.match(JSON.parse(rest.join(' ')), { ociVersion: features.ociVersionMax, status: 'created', pid: 1 }, 'startContainer: its state');
});

t.test('startContainer hooks run under the seccomp filter, as runc', async (t) => {
  for (const noNewPrivileges of [true, false]) {
    const dir = fs.mkdtempSync(path.join(work.dir, 'h-'));
    const bundle = hookBundle(dir, () => ({
      startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'mkdir /hooklog/made; echo "mkdir $?" >> /hooklog/log'] }],
    }), (c) => {
      c.process.noNewPrivileges = noNewPrivileges;
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    });
    const id = uniqueId('rp-scmp');
    try {
      const r = tsrun(['run', '--bundle', bundle.dir, id], { root });
      t.equal(r.status, 0, why(r));
      t.equal(readOr(path.join(dir, 'log')), 'mkdir 1\n', `noNewPrivileges ${noNewPrivileges}: the hook's mkdir was denied`);
      t.notOk(fs.existsSync(path.join(dir, 'made')));
    } finally {
      forceDelete(id, root);
      bundle.cleanup();
    }
  }
});

t.test('a failing poststart hook fails start and stops the container (runtime-spec 1.3)', async (t) => {
  const dir = fs.mkdtempSync(path.join(work.dir, 'h-'));
  const bundle = hookBundle(dir, (log) => ({ poststart: [{ path: HOST_HOOK, args: ['hook.sh', 'poststart', log, '7'] }] }), undefined, ['sleep', '1000']);
  const id = uniqueId('rp-post');
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  t.equal(tsrun(['create', '--bundle', bundle.dir, id], { root }).status, 0);
  const start = tsrun(['start', id], { root });
  t.equal(start.status, 1, why(start));
  t.match(start.stderr, /^tsrun: hooks\.poststart\[0\] \S+hook\.sh failed: exit status 7\n$/, 'one line naming the hook');
  t.match(hookLog(path.join(dir, 'log')).poststart?.state, { status: 'running' }, 'the hook ran');
  t.equal(state(id, root).status, 'stopped', 'the container was stopped');
  const del = tsrun(['delete', id], { root });
  t.equal(del.status, 0, why(del));
  t.same(residue(id, root, { bundle: bundle.dir }), []);
});

t.test('poststart runs only once the process has been executed', async (t) => {
  // A seccomp agent holds the process's execve: `start` must not return (nor run poststart)
  // until it lets it go, and the hook then sees the user's program, not tsrun-stage.
  const dir = fs.mkdtempSync(path.join(work.dir, 'h-'));
  const sock = path.join(dir, 'agent.sock');
  const held = path.join(dir, 'held');
  const release = path.join(dir, 'release');
  const agent = spawn('python3', [path.join(__dirname, '..', 'fixtures', 'seccomp-listener.py'), sock, path.join(dir, 'agent.out'), '1', '0', held, release], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const agentDone = new Promise<number | null>((resolve) => agent.on('exit', (code) => resolve(code)));
  t.teardown(() => agent.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    agent.stdout.once('data', () => resolve());
    agent.once('exit', (code) => reject(new Error(`the agent exited with ${code}`)));
  });
  const exeHook = path.join(dir, 'exe.sh');
  fs.writeFileSync(exeHook, '#!/bin/sh\npid=$(sed -n \'s/.*"pid":\\([0-9]*\\).*/\\1/p\')\nreadlink /proc/$pid/exe >> "$1"\n', { mode: 0o755 });
  const bundle = hookBundle(dir, () => ({ poststart: [{ path: exeHook, args: ['exe.sh', path.join(dir, 'exe')] }] }), (c) => {
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: sock, syscalls: [{ names: ['execve'], action: 'SCMP_ACT_NOTIFY' }] };
  }, ['sleep', '1000']);
  const id = uniqueId('rp-exec');
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  const create = tsrun(['create', '--bundle', bundle.dir, id], { root });
  t.equal(create.status, 0, why(create));
  const start = tsrunAsync(['start', id], { root });
  let result: TsrunResult | undefined;
  void start.done.then((r) => (result = r));
  t.ok(await waitAsync(() => fs.existsSync(held), 20_000), 'the agent holds the execve');
  // A negative check: for a second (not a synchronisation sleep), start must stay blocked.
  t.notOk(await waitAsync(() => result !== undefined, 1000), 'start waits while the process has not been executed');
  t.notOk(fs.existsSync(path.join(dir, 'exe')), 'poststart has not run yet');
  fs.writeFileSync(release, '');
  const r = await start.done;
  t.equal(r.status, 0, why(r));
  const exe = readOr(path.join(dir, 'exe')).trim();
  t.match(exe, /busybox$/, `poststart saw the user's program: ${exe}`);
  tsrun(['kill', id, 'KILL'], { root });
  forceDelete(id, root);
  t.equal(await agentDone, 0, 'the agent let everything go');
});

/** Poll without blocking the event loop (the async tsrun's exit must be seen). */
async function waitAsync(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return pred();
}
