// Rootless containers (issue 7): tsrun run by an unprivileged user, as runc does it. The
// test (root) makes a user of its own with subordinate id ranges, a private
// XDG_RUNTIME_DIR and a busybox rootfs it owns, then runs dist/tsrun.js as that user
// (setpriv) with no --root: the state goes to $XDG_RUNTIME_DIR/tsrun. Teardown removes the
// user, its /etc/subuid and /etc/subgid lines and its files.
import t from 'tap';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultConfig, type BundleConfig } from '../helpers/bundle';
import { rootSuite } from '../helpers/container';
import { copyRootfs } from '../helpers/rootfs';
import { residue, tsrunJs } from '../helpers/tsrun';

rootSuite();
const trampoline = path.resolve(__dirname, '../../dist/tsrun-userns');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const missing = ['setpriv', 'useradd', 'userdel', 'usermod', 'newuidmap', 'newgidmap'].filter((c) => !has(c));
const skip = !fs.existsSync(trampoline)
  ? 'npm run build first (with a C compiler for dist/tsrun-userns)'
  : missing.length > 0 ? `missing ${missing.join(', ')} (apt-get install uidmap util-linux passwd)` : false;

interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  xdg: string;
  /** First host id of its /etc/subuid and /etc/subgid range (65536 ids). */
  sub: number;
  rootfs: string;
}

const SUB_SIZE = 65536;

/** A free subordinate range: above every range in /etc/subuid and /etc/subgid (and 2000000). */
function freeSubRange(): number {
  let top = 2_000_000;
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const [, start, count] = line.split(':');
      if (start && count) top = Math.max(top, Number(start) + Number(count));
    }
  }
  return Math.ceil(top / SUB_SIZE) * SUB_SIZE + SUB_SIZE * Math.floor(Math.random() * 16);
}

function check(r: SpawnSyncReturns<string>, what: string): void {
  if (r.status !== 0) throw new Error(`${what}: status ${r.status}: ${r.stderr}`);
}

function makeUser(): TestUser {
  const name = `tsrl${randomBytes(4).toString('hex')}`;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-rootless-'));
  // No automatic subordinate ids (useradd would take the lowest free ones): ours, unique.
  check(spawnSync('useradd', ['-M', '-d', home, '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name], { encoding: 'utf8' }), 'useradd');
  const sub = freeSubRange();
  const range = `${sub}-${sub + SUB_SIZE - 1}`;
  check(spawnSync('usermod', ['--add-subuids', range, '--add-subgids', range, name], { encoding: 'utf8' }), 'usermod --add-subuids');
  const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
  fs.chownSync(home, uid, gid);
  fs.chmodSync(home, 0o755); // traversable: the container's root is this user
  const xdg = path.join(home, 'run');
  fs.mkdirSync(xdg, { mode: 0o700 });
  fs.chownSync(xdg, uid, gid);
  // The user's own rootfs, as an engine unpacks an image for a rootless user.
  const rootfs = copyRootfs(undefined, path.join(home, 'rootfs'));
  check(spawnSync('chown', ['-R', `${uid}:${gid}`, rootfs], { encoding: 'utf8' }), 'chown rootfs');
  return { name, uid, gid, home, xdg, sub, rootfs };
}

function removeUser(u: TestUser): void {
  spawnSync('pkill', ['-KILL', '-u', u.name]);
  spawnSync('userdel', [u.name]);
  // userdel drops the subordinate ranges too; make sure no line of ours is left.
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    try {
      const text = fs.readFileSync(file, 'utf8');
      const kept = text.split('\n').filter((l) => !l.startsWith(`${u.name}:`)).join('\n');
      if (kept !== text) fs.writeFileSync(file, kept);
    } catch {
      /* no such file */
    }
  }
  fs.rmSync(u.home, { recursive: true, force: true });
}

let user: TestUser | undefined;
if (!skip) {
  user = makeUser();
  t.teardown(() => removeUser(user!));
}

interface AsUserResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `node dist/tsrun.js ARGS` as the test user (no --root unless given), output through
 * files: a detached container keeps tsrun's stdout/stderr open.
 */
function asUser(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; program?: string[] } = {}): AsUserResult {
  const u = user!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-rl-out-'));
  const out = path.join(dir, 'out');
  const err = path.join(dir, 'err');
  const outFd = fs.openSync(out, 'w');
  const errFd = fs.openSync(err, 'w');
  fs.fchownSync(outFd, u.uid, u.gid);
  fs.fchownSync(errFd, u.uid, u.gid);
  try {
    const env: NodeJS.ProcessEnv = opts.env ?? {
      PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: u.home, USER: u.name, LOGNAME: u.name, XDG_RUNTIME_DIR: u.xdg,
    };
    const program = opts.program ?? [process.execPath, tsrunJs];
    const r = spawnSync('setpriv', ['--reuid', String(u.uid), '--regid', String(u.gid), '--init-groups', ...program, ...args], {
      cwd: opts.cwd ?? u.home, env, stdio: ['ignore', outFd, errFd], timeout: 60_000, killSignal: 'SIGKILL',
    });
    return { status: r.status, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8') };
  } finally {
    fs.closeSync(outFd);
    fs.closeSync(errFd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A bundle in the user's home (its files the user's) with a rootless config. */
function userBundle(mutate: (c: BundleConfig) => void): { dir: string; config: BundleConfig; remove: () => void } {
  const u = user!;
  const dir = fs.mkdtempSync(path.join(u.home, 'bundle-'));
  const config = defaultConfig(['/bin/true'], u.rootfs);
  const { linux } = config;
  linux.namespaces = linux.namespaces!.filter((ns) => ns.type !== 'network');
  linux.namespaces.push({ type: 'user' });
  linux.uidMappings = [{ containerID: 0, hostID: u.uid, size: 1 }];
  linux.gidMappings = [{ containerID: 0, hostID: u.gid, size: 1 }];
  delete linux.resources;
  config.mounts = config.mounts.filter((m) => m.destination !== '/sys');
  config.mounts.push({ destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  for (const m of config.mounts) if (m.options) m.options = m.options.filter((o) => !o.startsWith('gid='));
  mutate(config);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  spawnSync('chown', ['-R', `${u.uid}:${u.gid}`, dir]);
  fs.chmodSync(dir, 0o755);
  return { dir, config, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const sh = (script: string) => ['sh', '-c', script];
const stateRoot = () => path.join(user!.xdg, 'tsrun');
const cleanLines = (text: string) => text.split('\n').map((l) => l.trim().replace(/\s+/g, ' ')).filter((l) => l !== '');

/** What a container left: state under the user's root, mounts, cgroups, processes. */
function leftovers(id: string, bundle: string): string[] {
  return residue(id, stateRoot(), { bundle });
}

function waitStopped(id: string): string {
  let status = '';
  for (let i = 0; i < 250; i++) {
    const r = asUser(['state', id]);
    if (r.status !== 0) return `state failed: ${r.stderr}`;
    status = (JSON.parse(r.stdout) as { status: string }).status;
    if (status === 'stopped') return status;
    spawnSync('sleep', ['0.02']);
  }
  return status;
}

t.test('spec --rootless, then run: root inside is the user outside', { skip }, async (t) => {
  const u = user!;
  const dir = fs.mkdtempSync(path.join(u.home, 'spec-'));
  fs.chownSync(dir, u.uid, u.gid);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const spec = asUser(['spec', '--rootless', '--bundle', dir]);
  t.equal(spec.status, 0, spec.stderr);
  const file = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as BundleConfig;
  t.same(config.linux.uidMappings, [{ containerID: 0, hostID: u.uid, size: 1 }], "the user's own uid");
  t.same(config.linux.gidMappings, [{ containerID: 0, hostID: u.gid, size: 1 }], "the user's own gid");
  // What a user edits after `spec`: the rootfs, no terminal, a command.
  config.root = { path: u.rootfs, readonly: false };
  config.process.terminal = false;
  config.process.args = sh('id; cat /proc/self/uid_map; touch /tmp/made-rootless && echo touched');
  fs.writeFileSync(file, JSON.stringify(config));
  const id = `rl-spec-${process.pid}`;
  const r = asUser(['run', '--bundle', dir, id]);
  t.equal(r.status, 0, `run: ${r.stderr}`);
  const lines = cleanLines(r.stdout);
  t.match(lines[0], /^uid=0\(root\) gid=0\(root\)/, 'root in the container');
  t.equal(lines[1], `0 ${u.uid} 1`, 'uid_map: 0 -> the user');
  t.equal(lines[2], 'touched', 'root can write its rootfs');
  const made = fs.statSync(path.join(u.rootfs, 'tmp', 'made-rootless'));
  t.equal(made.uid, u.uid, 'the file belongs to the user on the host');
  t.same(leftovers(id, dir), [], 'nothing left');
});

t.test('create, start, state, exec, list, kill, delete as the user', { skip }, async (t) => {
  const u = user!;
  const b = userBundle((c) => {
    c.process.args = ['sleep', '60'];
  });
  t.teardown(b.remove);
  const id = `rl-life-${process.pid}`;
  t.teardown(() => asUser(['delete', '--force', id]));
  const created = asUser(['create', '--bundle', b.dir, id]);
  t.equal(created.status, 0, `create: ${created.stderr}`);
  const dir = path.join(stateRoot(), id);
  t.ok(fs.existsSync(path.join(dir, 'state.json')), 'state dir under $XDG_RUNTIME_DIR/tsrun');
  const rootStat = fs.statSync(stateRoot());
  t.equal(rootStat.uid, u.uid, 'the state root belongs to the user');
  t.equal(rootStat.mode & 0o7777, 0o1700, 'mode 01700 (sticky, as runc)');
  const state = (): { status: string; pid: number; owner: string } => JSON.parse(asUser(['state', id]).stdout);
  t.equal(state().status, 'created');
  t.equal(state().owner, u.name, 'owner is the user');
  const started = asUser(['start', id]);
  t.equal(started.status, 0, `start: ${started.stderr}`);
  t.equal(state().status, 'running');
  const init = state().pid;
  t.equal(fs.statSync(`/proc/${init}`).uid, u.uid, 'the init runs as the user on the host');

  const exec = asUser(['exec', id, 'sh', '-c', 'id -u; echo $$; cat /proc/1/cmdline | tr "\\0" " "']);
  t.equal(exec.status, 0, `exec: ${exec.stderr}`);
  const lines = cleanLines(exec.stdout);
  t.equal(lines[0], '0', 'exec: root in the container');
  t.not(lines[1], '1', 'exec: in the pid namespace (not pid 1)');
  t.equal(lines[2], 'sleep 60', 'exec: sees the container pid 1');
  const status = asUser(['exec', id, 'sh', '-c', 'exit 7']);
  t.equal(status.status, 7, 'exec passes on the exit status');

  const list = asUser(['list', '--format', 'json']);
  t.equal(list.status, 0, list.stderr);
  t.match(JSON.parse(list.stdout), [{ id, status: 'running', owner: u.name }], 'list reads the same root');

  for (const cmd of ['pause', 'ps', 'events']) {
    const r = asUser(cmd === 'events' ? ['events', '--stats', id] : [cmd, id]);
    t.equal(r.status, 1, `${cmd} without a cgroup fails`);
    t.match(r.stderr, /has no cgroup: it was created rootless without a writable cgroup/, `${cmd}: says why`);
  }

  const killed = asUser(['kill', id, 'KILL']);
  t.equal(killed.status, 0, `kill: ${killed.stderr}`);
  t.equal(waitStopped(id), 'stopped');
  const deleted = asUser(['delete', id]);
  t.equal(deleted.status, 0, `delete: ${deleted.stderr}`);
  t.notOk(fs.existsSync(dir), 'state dir removed');
  t.same(leftovers(id, b.dir), [], 'nothing left');
});

t.test('a file made by container root in a bind mount belongs to the user', { skip }, async (t) => {
  const u = user!;
  const shared = fs.mkdtempSync(path.join(u.home, 'shared-'));
  fs.chownSync(shared, u.uid, u.gid);
  const b = userBundle((c) => {
    c.process.args = sh('touch /shared/by-root && stat -c "%u %g" /shared/by-root');
    c.mounts.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind', 'rw'] });
  });
  t.teardown(() => {
    b.remove();
    fs.rmSync(shared, { recursive: true, force: true });
  });
  const id = `rl-bind-${process.pid}`;
  const r = asUser(['run', '--bundle', b.dir, id]);
  t.equal(r.status, 0, `run: ${r.stderr}`);
  t.equal(r.stdout.trim(), '0 0', 'root:root inside');
  const st = fs.statSync(path.join(shared, 'by-root'));
  t.equal(st.uid, u.uid, 'the user on the host');
  t.equal(st.gid, u.gid, "the user's group on the host");
  t.same(leftovers(id, b.dir), [], 'nothing left');
});

t.test('ranges from /etc/subuid through newuidmap: container uid 1000', { skip }, async (t) => {
  const u = user!;
  const shared = fs.mkdtempSync(path.join(u.home, 'shared-'));
  fs.chmodSync(shared, 0o777);
  const maps = (own: number) => [{ containerID: 0, hostID: own, size: 1 }, { containerID: 1, hostID: u.sub, size: SUB_SIZE }];
  const b = userBundle((c) => {
    c.linux.uidMappings = maps(u.uid);
    c.linux.gidMappings = maps(u.gid);
    c.process.user = { uid: 1000, gid: 1000 };
    c.process.args = sh('id -u; id -g; cat /proc/self/uid_map; touch /shared/by-1000');
    c.mounts.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind', 'rw'] });
  });
  t.teardown(() => {
    b.remove();
    fs.rmSync(shared, { recursive: true, force: true });
  });
  const id = `rl-range-${process.pid}`;
  const r = asUser(['run', '--bundle', b.dir, id]);
  t.equal(r.status, 0, `run: ${r.stderr}`);
  const lines = cleanLines(r.stdout);
  t.same(lines.slice(0, 4), ['1000', '1000', `0 ${u.uid} 1`, `1 ${u.sub} ${SUB_SIZE}`], 'uid 1000, both ranges mapped');
  const st = fs.statSync(path.join(shared, 'by-1000'));
  t.equal(st.uid, u.sub + 999, 'container uid 1000 is subordinate uid start+999 on the host');
  t.equal(st.gid, u.sub + 999, 'and gid');
  t.same(leftovers(id, b.dir), [], 'nothing left');
});

t.test('refusals: limits without a cgroup, --rootless=false, no user namespace, no XDG_RUNTIME_DIR', { skip }, async (t) => {
  const u = user!;
  const limited = userBundle((c) => {
    c.linux.resources = { memory: { limit: 64 * 1024 * 1024 } };
  });
  t.teardown(limited.remove);
  const id = `rl-limit-${process.pid}`;
  const r = asUser(['create', '--bundle', limited.dir, id]);
  t.equal(r.status, 1, 'create fails');
  t.match(r.stderr, /^tsrun: rootless container: linux\.resources\.memory set, but uid \d+ cannot create a cgroup \(.*permission denied.*\); remove linux\.resources/, r.stderr);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.same(leftovers(id, limited.dir), [], 'no state dir, cgroup or process left');

  const plain = userBundle(() => {});
  t.teardown(plain.remove);
  const strict = asUser(['--rootless=false', 'run', '--bundle', plain.dir, `${id}-strict`]);
  t.equal(strict.status, 1, '--rootless=false: cgroup errors are fatal (as runc)');
  t.match(strict.stderr, /permission denied.*running as uid \d+ with --rootless=false: cgroup errors are fatal/);
  t.same(leftovers(`${id}-strict`, plain.dir), [], 'nothing left');

  const bad = asUser(['--rootless', 'maybe', 'run', '--bundle', plain.dir, `${id}-bad`]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, 'tsrun: --rootless: expected true, false or auto, found "maybe"');

  const noUserns = userBundle((c) => {
    c.linux.namespaces = c.linux.namespaces!.filter((ns) => ns.type !== 'user');
  });
  t.teardown(noUserns.remove);
  const nu = asUser(['run', '--bundle', noUserns.dir, `${id}-nouserns`]);
  t.equal(nu.status, 1);
  t.match(nu.stderr, /a rootless container needs a user namespace/);
  t.same(leftovers(`${id}-nouserns`, noUserns.dir), [], 'nothing left');

  // runc's default root without XDG_RUNTIME_DIR is /run/runc: the user may not write there.
  const noXdg = asUser(['run', '--bundle', plain.dir, `${id}-noxdg`], {
    env: { PATH: '/usr/bin:/bin', HOME: u.home, USER: u.name },
  });
  t.equal(noXdg.status, 1);
  t.match(noXdg.stderr, /^tsrun: state root \/run\/tsrun: permission denied \(EACCES\) for uid \d+: set XDG_RUNTIME_DIR/);
  const noXdgState = asUser(['state', 'whatever'], { env: { PATH: '/usr/bin:/bin', HOME: u.home } });
  t.equal(noXdgState.status, 1);
  t.match(noXdgState.stderr, /^tsrun: (container does not exist: whatever|state root \/run\/tsrun: permission denied)/, 'state looks in /run/tsrun');
});


t.test('podman (rootless, as the user) with --runtime tsrun', { skip: skip || (!has('podman') && 'podman is not installed') }, async (t) => {
  const u = user!;
  // vfs storage in the user's home, tsrun's JSON log understood, no systemd.
  const conf = path.join(u.home, '.config', 'containers');
  fs.mkdirSync(conf, { recursive: true });
  fs.writeFileSync(path.join(conf, 'storage.conf'), `[storage]\ndriver = "vfs"\nrunroot = "${u.xdg}/containers"\ngraphroot = "${u.home}/storage"\n`);
  fs.writeFileSync(path.join(conf, 'containers.conf'), '[engine]\nruntime_supports_json = ["tsrun"]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  const tarball = path.join(u.home, 'busybox.tar');
  check(spawnSync('tar', ['-C', u.rootfs, '-cf', tarball, '.'], { encoding: 'utf8' }), 'tar');
  spawnSync('chown', ['-R', `${u.uid}:${u.gid}`, path.join(u.home, '.config'), tarball]);
  const podman = (...args: string[]) => asUser(args, { program: ['podman', '--runtime', tsrunJs] });
  const imported = podman('import', tarball, 'localhost/tsrun-rootless:test');
  t.equal(imported.status, 0, `podman import: ${imported.stderr}`);

  const r = podman('run', '--rm', '--network', 'none', 'localhost/tsrun-rootless:test', 'sh', '-c', 'id -u; cat /proc/self/uid_map | head -1');
  t.equal(r.status, 0, `podman run: ${r.stderr}`);
  t.same(cleanLines(r.stdout), ['0', `0 ${u.uid} 1`], "root in podman's user namespace is the user");

  const name = `rl-podman-${process.pid}`;
  t.teardown(() => podman('rm', '-f', '-t', '0', name));
  const started = podman('run', '-d', '--name', name, '--network', 'none', 'localhost/tsrun-rootless:test', 'sleep', '60');
  t.equal(started.status, 0, `podman run -d: ${started.stderr}`);
  const exec = podman('exec', name, 'sh', '-c', 'echo in; exit 3');
  t.equal(exec.stdout.trim(), 'in', 'podman exec runs in the container');
  t.equal(exec.status, 3, 'podman exec reports the exit status');
  const removed = podman('rm', '-f', '-t', '0', name);
  t.equal(removed.status, 0, `podman rm -f: ${removed.stderr}`);
  const containerId = started.stdout.trim();
  t.match(containerId, /^[0-9a-f]{64}$/, 'podman printed the container id');
  t.same(fs.readdirSync(stateRoot()).filter((n) => n === containerId), [], 'its state under $XDG_RUNTIME_DIR/tsrun is gone');
});
