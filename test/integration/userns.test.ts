// User namespaces (issue 7), as root: the container's root is an unprivileged host uid.
// Files it creates in a bind-mounted host directory belong to the mapped host uid, it sees
// its own mapping, its capabilities reach only its own namespaces, a user namespace can be
// joined by path, and without a new network namespace /sys is bound (sysfs cannot be
// mounted) and the locked flags of bind sources are kept.
import t, { Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BundleConfig } from '../helpers/bundle';
import { runIn, stopTapSpawnHooks } from '../helpers/container';
import { freshRoot, tsrunBuilt, waitFor } from '../helpers/tsrun';

stopTapSpawnHooks();
const isRoot = process.getuid?.() === 0;
const trampoline = path.resolve(__dirname, '../../dist/tsrun-userns');
const skip = !isRoot ? 'needs root' : !tsrunBuilt() || !fs.existsSync(trampoline) ? 'npm run build first (with a C compiler for dist/tsrun-userns)' : false;

const root = freshRoot();
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));

const HOST = 100000;
const withUserns = (c: BundleConfig) => {
  c.linux.namespaces!.push({ type: 'user' });
  c.linux.uidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
  c.linux.gidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
};
const sh = (script: string) => ['sh', '-c', script];
/** As engines do for a user namespace: the rootfs belongs to the mapped root (mount points can be made). */
const ownedRootfs = {
  copyRootfs: true,
  prepare: (b: { dir: string; rootfs: string }) => {
    spawnSync('chown', ['-R', `${HOST}:${HOST}`, b.rootfs]);
    fs.chmodSync(b.dir, 0o755); // mkdtemp's 0700 would keep the mapped root out of its rootfs
  },
};

t.test('container root is host uid 100000: mapping, files, capabilities', { skip }, async (t) => {
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-userns-'));
  t.teardown(() => fs.rmSync(shared, { recursive: true, force: true }));
  fs.chmodSync(shared, 0o777);
  const secret = path.join(shared, 'secret');
  fs.writeFileSync(secret, 'host root only\n', { mode: 0o600 });
  const r = runIn({
    root,
    ...ownedRootfs,
    args: sh([
      'id -u; cat /proc/self/uid_map /proc/self/gid_map',
      'echo pid $$',
      'touch /shared/made-inside && echo touched',
      'cat /shared/secret 2>/dev/null && echo READ-SECRET || echo secret-denied',
      // root in the container, but over the host's hostname/clock it has nothing
      'stat -c "%u %g" /shared/secret',
    ].join('; ')),
    mutate: (c) => {
      withUserns(c);
      c.mounts.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind', 'rw'] });
      c.process.capabilities = { bounding: ['CAP_DAC_OVERRIDE', 'CAP_CHOWN'], effective: ['CAP_DAC_OVERRIDE', 'CAP_CHOWN'], permitted: ['CAP_DAC_OVERRIDE', 'CAP_CHOWN'] };
    },
  });
  t.equal(r.status, 0, `run: ${r.stderr.trim()}`);
  t.same(r.residue, [], 'nothing left');
  const lines = r.stdout.split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
  t.equal(lines[0], '0', 'uid 0 inside');
  t.equal(lines[1], `0 ${HOST} 65536`, 'uid_map shows the mapping');
  t.equal(lines[2], `0 ${HOST} 65536`, 'gid_map shows the mapping');
  t.equal(lines[3], 'pid 1', 'pid 1 of its pid namespace');
  t.equal(lines[4], 'touched');
  const st = fs.statSync(path.join(shared, 'made-inside'));
  t.equal(st.uid, HOST, 'a file made by container root belongs to host uid 100000');
  t.equal(st.gid, HOST, 'and host gid 100000');
  t.equal(lines[5], 'secret-denied', 'CAP_DAC_OVERRIDE in the userns does not open a host root-only file');
  t.equal(lines[6], '65534 65534', 'host root shows as the overflow id');
});

/**
 * A process in a fresh user namespace whose maps we write as root, as an engine would:
 * container root is host uid `HOST + offset`. Returns its pid.
 */
function userNamespaceHolder(t: Test, offset: number): number {
  const holder = spawn('unshare', ['--user', 'sleep', '60'], { stdio: 'ignore' });
  t.teardown(() => {
    holder.kill('SIGKILL');
  });
  const pid = holder.pid!;
  // Its maps can be written once it runs in its own user namespace (unshare has unshared).
  const ours = fs.readlinkSync('/proc/self/ns/user');
  const nsOf = (): string => {
    try {
      return fs.readlinkSync(`/proc/${pid}/ns/user`);
    } catch {
      return ours;
    }
  };
  t.ok(waitFor(() => nsOf() !== ours, 10_000), 'the holder is in a new user namespace');
  fs.writeFileSync(`/proc/${pid}/uid_map`, `0 ${HOST + offset} 1000\n`);
  fs.writeFileSync(`/proc/${pid}/gid_map`, `0 ${HOST + offset} 1000\n`);
  return pid;
}

t.test('a user namespace joined by path', { skip }, async (t) => {
  const pid = userNamespaceHolder(t, 5000);
  const r = runIn({
    root,
    args: sh('id -u; cat /proc/self/uid_map; echo pid $$; readlink /proc/self/ns/user'),
    mutate: (c) => {
      c.linux.namespaces!.push({ type: 'user', path: `/proc/${pid}/ns/user` });
    },
  });
  t.equal(r.status, 0, `run: ${r.stderr.trim()}`);
  t.same(r.residue, [], 'nothing left');
  const lines = r.stdout.split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
  t.equal(lines[0], '0');
  t.equal(lines[1], `0 ${HOST + 5000} 1000`, 'the joined namespace\'s mapping');
  t.equal(lines[2], 'pid 1', 'a new pid namespace owned by the joined user namespace');
  t.equal(lines[3], fs.readlinkSync(`/proc/${pid}/ns/user`), 'the same user namespace');
});

t.test('a user namespace pinned by a bind mount (as CRI-O\'s pinns) joined by path', { skip }, async (t) => {
  const pid = userNamespaceHolder(t, 6000);
  // /proc/self/fd of a bind-mounted namespace file names its mount point, not "user:[ino]".
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-pinned-userns-'));
  const pinned = path.join(dir, 'user');
  fs.writeFileSync(pinned, '');
  const m = spawnSync('mount', ['--bind', `/proc/${pid}/ns/user`, pinned], { encoding: 'utf8' });
  t.teardown(() => {
    spawnSync('umount', [pinned]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  t.equal(m.status, 0, `pinned: ${m.stderr}`);
  const r = runIn({
    root,
    args: sh('cat /proc/self/uid_map; readlink /proc/self/ns/user'),
    mutate: (c) => {
      c.linux.namespaces!.push({ type: 'user', path: pinned });
    },
  });
  t.equal(r.status, 0, `run: ${r.stderr.trim()}`);
  t.same(r.residue, [], 'nothing left');
  const lines = r.stdout.split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
  t.equal(lines[0], `0 ${HOST + 6000} 1000`, 'the pinned namespace\'s mapping');
  t.equal(lines[1], fs.readlinkSync(`/proc/${pid}/ns/user`), 'the same user namespace');
});

t.test('no new network namespace: /sys is bound, locked flags kept on read-only remounts', { skip }, async (t) => {
  // A nosuid,nodev,noexec mount of the host to bind read-only: those flags are locked.
  const locked = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-locked-'));
  spawnSync('mount', ['-t', 'tmpfs', '-o', 'nosuid,nodev,noexec,size=1m', 'tsrun-locked', locked]);
  t.teardown(() => {
    spawnSync('umount', [locked]);
    fs.rmdirSync(locked);
  });
  const r = runIn({
    root,
    ...ownedRootfs,
    args: sh('grep -E " /sys | /ro-tmp " /proc/self/mountinfo; ls /sys/class >/dev/null && echo sys-ok; ls -l /dev/null'),
    mutate: (c) => {
      withUserns(c);
      c.linux.namespaces = c.linux.namespaces!.filter((ns) => ns.type !== 'network');
      c.root.readonly = true;
      c.mounts.push({ destination: '/ro-tmp', type: 'bind', source: locked, options: ['rbind', 'ro'] });
    },
  });
  t.equal(r.status, 0, `run: ${r.stderr.trim()}`);
  t.same(r.residue, [], 'nothing left');
  t.match(r.stdout, /sys-ok/);
  t.match(r.stdout, / \/sys ro,nosuid,nodev,noexec/, '/sys bound read-only');
  t.match(r.stdout, / \/ro-tmp ro,nosuid,nodev,noexec/, 'the source\'s nosuid,nodev,noexec kept with ro');
  t.match(r.stdout, /^crw-rw-rw-.* 1, +3 .*\/dev\/null$/m, '/dev/null is the host device, bound');
});

t.test('refused: a new user namespace without mappings', { skip }, async (t) => {
  const r = runIn({ root, mutate: (c) => c.linux.namespaces!.push({ type: 'user' }) });
  t.equal(r.status, 1);
  t.match(r.stderr, /uidMappings\/gidMappings/);
  t.same(r.residue, []);
});
