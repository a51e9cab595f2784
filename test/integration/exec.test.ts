// `tsrun exec` against a real running container: the exec'd process is in the init's
// namespaces and cgroups, gets the process settings (from --process or from the inline
// flags on top of the container's config), propagates its exit status, reports a missing
// executable as engines expect, leaks no fds, and --detach --pid-file gives its host pid.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeBundle } from '../helpers/bundle';
import { stopTapSpawnHooks, tsrunAsync } from '../helpers/container';
import { forceDelete, freshRoot, pidAlive, residue, state, tsrun, TsrunResult, uniqueId, waitFor } from '../helpers/tsrun';

stopTapSpawnHooks();
const root = freshRoot();
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));

const id = uniqueId('exec');
const bundle = makeBundle({ args: ['sleep', '1000'] });
t.teardown(() => {
  forceDelete(id, root);
  bundle.cleanup();
});

function why(r: TsrunResult): string {
  return `${r.argv.slice(2).join(' ')} -> status ${r.status}; stdout: ${r.stdout.trim()}; stderr: ${r.stderr.trim()}`;
}

const NS = ['pid', 'mnt', 'uts', 'net', 'ipc', 'cgroup'];
const nsOf = (pid: number) => Object.fromEntries(NS.map((n) => [n, fs.readlinkSync(`/proc/${pid}/ns/${n}`)]));

let initPid = 0;
t.before(() => {
  const r = tsrun(['run', '-d', '--bundle', bundle.dir, id], { root });
  if (r.status !== 0) throw new Error(why(r));
  initPid = state(id, root).pid;
});

t.test('--detach --pid-file: the host pid of the process, in every namespace and cgroup of the init', async (t) => {
  const pidFile = path.join(bundle.dir, 'exec.pid');
  const start = Date.now();
  const r = tsrun(['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '30'], { root });
  t.equal(r.status, 0, why(r));
  t.ok(Date.now() - start < 10_000, 'returned without waiting for the process');
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.ok(pid > 0 && pidAlive(pid), `pid ${pid} is alive`);
  t.match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^sleep\x0030\x00$/, 'it is the exec\'d process itself');
  t.same(nsOf(pid), nsOf(initPid), 'same pid/mnt/uts/net/ipc/cgroup namespaces as the init');
  t.equal(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'), fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8'), 'same cgroups');
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  t.match(status, /^NSpid:\s+\d+\s+\d+$/m, 'has a pid inside the container pid namespace');
  t.match(status, /^NoNewPrivs:\s+1$/m, 'noNewPrivileges from the container config');
  process.kill(pid, 'SIGKILL');
});

t.test('foreground: exit status, stdout, the config defaults', async (t) => {
  let r = tsrun(['exec', id, 'sh', '-c', 'exit 5'], { root });
  t.equal(r.status, 5, why(r));
  r = tsrun(['exec', id, 'sh', '-c', 'kill -TERM $$'], { root });
  t.equal(r.status, 128 + 15, `killed by SIGTERM -> 143: ${why(r)}`);
  r = tsrun(['exec', id, 'sh', '-c', 'echo "$TERM $PATH"; pwd; id -u; hostname'], { root });
  t.equal(r.status, 0, why(r));
  t.same(r.stdout.trim().split('\n'), ['xterm /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '/', '0', 'tsrun']);
});

t.test('foreground: only the process joins the container\'s cgroups (tsrun-stage goes back, as runc\'s exec parent)', async (t) => {
  const ex = tsrunAsync(['exec', id, 'sleep', '30'], { root });
  const inContainer = () => {
    const r = tsrun(['ps', '--format', 'json', id], { root });
    return r.status === 0 ? (JSON.parse(r.stdout) as number[]) : [];
  };
  const comm = (pid: number) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  t.ok(waitFor(() => inContainer().some((pid) => pid !== initPid && comm(pid) === 'sleep' && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\x0030\x00')), 'the exec\'d sleep is in the container');
  const pids = inContainer();
  t.same(pids.map(comm).sort(), ['sleep', 'sleep'], `tsrun ps lists the init and the exec'd process only: ${pids.map((p) => `${p} ${comm(p)}`).join(', ')}`);
  const sleeper = pids.find((p) => p !== initPid)!;
  process.kill(sleeper, 'SIGTERM');
  const r = await ex.done;
  t.equal(r.status, 128 + 15, `the exec'd process's status reaches the caller: ${why(r)}`);
});

t.test('foreground run of a pod container: only its process is in its cgroups (the same for tsrun-stage\'s parent)', async (t) => {
  const podId = uniqueId('podfg');
  const pod = makeBundle({
    args: ['sleep', '31'],
    mutate: (c) => {
      c.linux.namespaces = (c.linux.namespaces ?? []).map((ns) => (ns.type === 'pid' ? { type: 'pid', path: `/proc/${initPid}/ns/pid` } : ns));
    },
  });
  t.teardown(() => {
    forceDelete(podId, root);
    pod.cleanup();
  });
  const run = tsrunAsync(['run', '--bundle', pod.dir, podId], { root });
  const pids = () => {
    const r = tsrun(['ps', '--format', 'json', podId], { root });
    return r.status === 0 ? (JSON.parse(r.stdout) as number[]) : [];
  };
  const comm = (pid: number) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  t.ok(waitFor(() => pids().some((p) => comm(p) === 'sleep')), 'the pod container runs');
  const inside = pids();
  t.same(inside.map(comm), ['sleep'], `tsrun ps lists the process only: ${inside.map((p) => `${p} ${comm(p)}`).join(', ')}`);
  process.kill(inside[0], 'SIGTERM');
  const r = await run.done;
  t.equal(r.status, 128 + 15, `run reports the process's status: ${why(r)}`);
});

t.test('inline flags: --user, --additional-gids, --cwd, --env, --cap, --no-new-privs', async (t) => {
  const r = tsrun([
    'exec', '-u', '1000:1001', '-g', '5', '--additional-gids', '7', '--cwd', '/tmp', '-e', 'FOO=bar', '--env', 'TERM=dumb',
    '--cap', 'CAP_SYS_ADMIN', '--no-new-privs', id,
    'sh', '-c', 'id -u; id -g; id -G; pwd; echo "$FOO $TERM"; grep -E "^(CapBnd|NoNewPrivs)" /proc/self/status',
  ], { root });
  t.equal(r.status, 0, why(r));
  const lines = r.stdout.trim().split('\n');
  t.same(lines.slice(0, 5), ['1000', '1001', '1001 5 7', '/tmp', 'bar dumb']);
  // CAP_KILL(5), CAP_NET_BIND_SERVICE(10), CAP_SYS_ADMIN(21), CAP_AUDIT_WRITE(29)
  t.match(lines[5], /^CapBnd:\s+0000000020200420$/, 'bounding set: the config\'s plus CAP_SYS_ADMIN');
  t.match(lines[6], /^NoNewPrivs:\s+1$/);
});

t.test('--process FILE (the engines\' form)', async (t) => {
  const proc = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'engine-configs', 'podman-exec-process.json'), 'utf8'));
  proc.args = ['sh', '-c', 'echo "$container $HOME"; pwd; id -u; grep CapEff /proc/self/status; ulimit -n'];
  proc.cwd = '/etc';
  proc.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 512, soft: 256 }];
  const file = path.join(bundle.dir, 'process.json');
  fs.writeFileSync(file, JSON.stringify(proc));
  let r = tsrun(['exec', '--process', file, id], { root });
  t.equal(r.status, 0, why(r));
  // podman's 14 default capabilities: 0x00000000a80425fb
  t.same(r.stdout.trim().split('\n'), ['podman /root', '/etc', '0', 'CapEff:\t00000000a80425fb', '256']);

  // An omitted user is root (runc-process.test.ts); an omitted cwd is refused, as by runc.
  fs.writeFileSync(file, JSON.stringify({ ...proc, cwd: undefined }));
  r = tsrun(['exec', '--process', file, id], { root });
  t.equal(r.status, 1, 'an invalid process.json is refused');
  t.match(r.stderr, /process\.json.*cwd/);
});

t.test('process attributes from --process: oomScoreAdj', async (t) => {
  const proc = { ...bundle.config.process, args: ['cat', '/proc/self/oom_score_adj'], oomScoreAdj: 500 };
  const file = path.join(bundle.dir, 'oom.json');
  fs.writeFileSync(file, JSON.stringify(proc));
  const r = tsrun(['exec', '--process', file, id], { root });
  t.equal(r.status, 0, why(r));
  t.equal(r.stdout.trim(), '500');
});

const haveApparmor = fs.existsSync('/sys/kernel/security/apparmor') && 'this host has AppArmor: the refusal is for hosts without it';
t.test('exec --apparmor on a host without AppArmor is refused', { skip: haveApparmor }, async (t) => {
  const a = tsrun(['exec', '--apparmor', 'some-profile', id, 'true'], { root });
  t.equal(a.status, 1, why(a));
  t.match(a.stderr, /AppArmor is not enabled/);
});

t.test('a missing executable: exit 1 and the text engines map to 127', async (t) => {
  const r = tsrun(['exec', id, 'no-such-command', 'x'], { root });
  t.equal(r.status, 1, why(r));
  t.match(r.stderr, /exec failed: .*"no-such-command": executable file not found in \$PATH/);
  const r2 = tsrun(['exec', id, '/no/such/file'], { root });
  t.equal(r2.status, 1, why(r2));
  t.match(r2.stderr, /no such file or directory/);
});

t.test('no fd leak; --preserve-fds keeps 3..3+N-1', async (t) => {
  const pidFile = path.join(bundle.dir, 'fds.pid');
  /** The fds of the exec'd process, read from the host while it sleeps. */
  const fdsWith = async (extra: string[]): Promise<string> => {
    // Files, not pipes: a preserved pipe would keep tsrunAsync waiting for the sleep.
    const extraFds = [3, 4].map((n) => fs.openSync(path.join(bundle.dir, `extra-fd-${n}`), 'w'));
    const a = tsrunAsync(['exec', '-d', '--pid-file', pidFile, ...extra, id, 'sleep', '30'], { root, extraStdio: extraFds });
    const r = await a.done;
    for (const fd of extraFds) fs.closeSync(fd);
    t.equal(r.status, 0, why(r));
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    const fds = fs.readdirSync(`/proc/${pid}/fd`).map(Number).sort((x, y) => x - y).join(' ');
    process.kill(pid, 'SIGKILL');
    return fds;
  };
  t.equal(await fdsWith([]), '0 1 2', 'fds 3 and 4 of tsrun do not reach the process');
  t.equal(await fdsWith(['--preserve-fds', '1']), '0 1 2 3', 'fd 3 is preserved, fd 4 is not');
});

t.test('refusals: stopped container, usage errors', async (t) => {
  const stopped = uniqueId('exec-stopped');
  const b = makeBundle({ args: ['true'] });
  t.teardown(() => {
    forceDelete(stopped, root);
    b.cleanup();
  });
  const r0 = tsrun(['run', '-d', '--bundle', b.dir, stopped], { root });
  t.equal(r0.status, 0, why(r0));
  t.ok(waitFor(() => state(stopped, root).status === 'stopped'), 'the container stopped');
  let r = tsrun(['exec', stopped, 'true'], { root });
  t.equal(r.status, 1);
  t.match(r.stderr, /cannot exec in a stopped container/);
  r = tsrun(['exec', uniqueId('nope'), 'true'], { root });
  t.equal(r.status, 1);
  t.match(r.stderr, /container does not exist/);
  r = tsrun(['exec', id], { root });
  t.equal(r.status, 1, 'no command and no --process');
  r = tsrun(['exec', '-t', '-d', id, 'true'], { root });
  t.equal(r.status, 1, 'a detached tty needs a console socket');
  t.match(r.stderr, /cannot allocate tty/);
});

t.test('paused container: refused unless --ignore-paused', async (t) => {
  const p = tsrun(['pause', id], { root });
  t.equal(p.status, 0, `pause: ${why(p)}`);
  t.teardown(() => void tsrun(['resume', id], { root }));
  const r = tsrun(['exec', id, 'true'], { root });
  t.equal(r.status, 1);
  t.match(r.stderr, /paused/);
});

t.test('nothing left behind', async (t) => {
  const r = tsrun(['delete', '--force', id], { root });
  t.equal(r.status, 0, why(r));
  t.same(residue(id, root, { bundle: bundle.dir }), []);
});
