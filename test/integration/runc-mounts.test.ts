// runc compatibility of mounts (issue 12): recursive mount flags (rro and friends, set with
// mount_setattr AT_RECURSIVE), tmpcopyup, and a read-only /dev with mounts under it. Each
// runs a real container and checks what the container saw; runc 1.1.5 accepts the same
// configs, and where runc is installed the same config is run with it for comparison.
import t, { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BundleConfig, BundleOptions, makeBundle } from '../helpers/bundle';
import { rootSuite, tempDir } from '../helpers/container';
import { forceDelete, residue, tsrun, uniqueId } from '../helpers/tsrun';

const root = rootSuite();
const work = tempDir('tsrun-rmounts-');
t.teardown(work.remove);
const RUNC = fs.existsSync('/usr/sbin/runc') ? '/usr/sbin/runc' : undefined;

/** Run a container in the foreground with tsrun (and runc when installed): status and output. */
function run(t: Test, opts: BundleOptions & { prepare?: (bundle: { dir: string; rootfs: string }) => void }): { status: number | null; out: string; runc?: { status: number | null; out: string } } {
  const id = uniqueId('rmnt');
  const bundle = makeBundle(opts);
  t.teardown(() => {
    if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
    bundle.cleanup();
  });
  opts.prepare?.(bundle);
  const res = tsrun(['run', '--bundle', bundle.dir, id], { root, timeout: 30_000 });
  t.same(residue(id, root, { bundle: bundle.dir }), [], 'no residue after the run');
  let runc: { status: number | null; out: string } | undefined;
  if (RUNC) {
    const runcRoot = path.join(work.dir, 'runc-root');
    const r = spawnSync(RUNC, ['--root', runcRoot, 'run', '--bundle', bundle.dir, `${id}-runc`], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    spawnSync(RUNC, ['--root', runcRoot, 'delete', '-f', `${id}-runc`]);
    runc = { status: r.status, out: r.stdout + r.stderr };
  } else {
    t.test('the same with runc', { skip: 'runc is not installed' }, () => undefined);
  }
  return { status: res.status, out: res.stdout + res.stderr, runc };
}

/** A host directory with a submount (a tmpfs at sub/) and a file in each. */
function treeWithSubmount(t: Test): string {
  const dir = fs.mkdtempSync(path.join(work.dir, 'tree-'));
  fs.writeFileSync(path.join(dir, 'top'), 'top\n');
  fs.mkdirSync(path.join(dir, 'sub'));
  const r = spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(dir, 'sub')]);
  if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`);
  t.teardown(() => spawnSync('umount', ['-l', path.join(dir, 'sub')]));
  fs.writeFileSync(path.join(dir, 'sub', 'inner'), 'inner\n');
  return dir;
}

const WRITE_BOTH = 'touch /t/new-top && echo top-writable; touch /t/sub/new-inner && echo inner-writable; echo done';

t.test('rro makes a bind and its submounts read-only; ro leaves the submount writable', async (t) => {
  const dir = treeWithSubmount(t);
  const ro = run(t, {
    args: ['sh', '-c', WRITE_BOTH],
    mutate: (c) => c.mounts.push({ destination: '/t', type: 'bind', source: dir, options: ['rbind', 'ro'] }),
  });
  t.equal(ro.status, 0, `ro: ${ro.out}`);
  t.notMatch(ro.out, /top-writable/, 'ro: the bind itself is read-only');
  t.match(ro.out, /inner-writable/, 'ro: the submount stays writable (as in runc)');
  const fresh = treeWithSubmount(t);
  const rro = run(t, {
    args: ['sh', '-c', WRITE_BOTH],
    mutate: (c) => c.mounts.push({ destination: '/t', type: 'bind', source: fresh, options: ['rbind', 'rro'] }),
  });
  t.equal(rro.status, 0, `rro: ${rro.out}`);
  t.match(rro.out, /done/, 'rro: the container ran');
  t.notMatch(rro.out, /top-writable/, 'rro: the bind is read-only');
  t.notMatch(rro.out, /inner-writable/, 'rro: the submount is read-only too');
  if (rro.runc) t.same([rro.runc.status, /inner-writable/.test(rro.runc.out)], [0, false], `runc agrees: ${rro.runc.out}`);
  t.notOk(fs.existsSync(path.join(fresh, 'sub', 'new-inner')), 'nothing written on the host');
});

t.test('rnoexec and rnosuid reach submounts', async (t) => {
  const dir = treeWithSubmount(t);
  fs.copyFileSync('/bin/busybox', path.join(dir, 'sub', 'bb'));
  fs.chmodSync(path.join(dir, 'sub', 'bb'), 0o755);
  const r = run(t, {
    args: ['sh', '-c', '/t/sub/bb true && echo exec-ok; grep " /t/sub " /proc/self/mountinfo'],
    mutate: (c) => c.mounts.push({ destination: '/t', type: 'bind', source: dir, options: ['rbind', 'rnoexec', 'rnosuid'] }),
  });
  t.equal(r.status, 0, r.out);
  t.notMatch(r.out, /exec-ok/, 'the submount is noexec');
  t.match(r.out, / \/t\/sub \S*nosuid\S*noexec/, 'mountinfo shows nosuid,noexec on the submount');
});

t.test('tmpcopyup copies the image content into the new tmpfs', async (t) => {
  const prepare = ({ rootfs }: { rootfs: string }) => {
    fs.mkdirSync(path.join(rootfs, 'etc', 'deep', 'er'), { recursive: true });
    fs.writeFileSync(path.join(rootfs, 'etc', 'deep', 'er', 'file'), 'deep\n');
    fs.chownSync(path.join(rootfs, 'etc', 'deep', 'er', 'file'), 1000, 100);
    fs.chmodSync(path.join(rootfs, 'etc', 'deep', 'er', 'file'), 0o604);
    fs.symlinkSync('../proc/self/mounts', path.join(rootfs, 'etc', 'mtab-link'));
  };
  const r = run(t, {
    copyRootfs: true,
    prepare,
    args: ['sh', '-c', 'stat -c "%a %u:%g %n" /etc/deep/er/file; cat /etc/deep/er/file; readlink /etc/mtab-link; grep -c ^root: /etc/passwd; grep " /etc " /proc/self/mountinfo | cut -d" " -f9; touch /etc/new && echo etc-writable'],
    mutate: (c) => c.mounts.push({ destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'mode=755'] }),
  });
  t.equal(r.status, 0, r.out);
  t.match(r.out, /^604 1000:100 \/etc\/deep\/er\/file$/m, 'a nested file keeps its mode and owner');
  t.match(r.out, /^deep$/m, 'and its content');
  t.match(r.out, /^\.\.\/proc\/self\/mounts$/m, 'a symlink is copied as a symlink');
  t.match(r.out, /^1$/m, '/etc/passwd is there');
  t.match(r.out, /^tmpfs$/m, '/etc is a tmpfs');
  t.match(r.out, /etc-writable/, 'and writable');
  if (r.runc) t.same([r.runc.status, /^604 1000:100 \/etc\/deep\/er\/file$/m.test(r.runc.out)], [0, true], `runc agrees: ${r.runc.out}`);
});

t.test('a read-only tmpfs with tmpcopyup is filled first, then read-only', async (t) => {
  const r = run(t, {
    args: ['sh', '-c', 'grep -c ^root: /etc/passwd; touch /etc/new && echo etc-writable; grep " /etc " /proc/self/mountinfo | cut -d" " -f6'],
    mutate: (c) => c.mounts.push({ destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'ro', 'nosuid', 'mode=755'] }),
  });
  t.equal(r.status, 0, r.out);
  t.match(r.out, /^1$/m, 'the image content is there');
  t.notMatch(r.out, /etc-writable/, 'read-only');
  t.match(r.out, /^ro,nosuid/m, 'mountinfo: ro,nosuid');
  if (r.runc) t.same([r.runc.status, /^1$/m.test(r.runc.out), /etc-writable/.test(r.runc.out)], [0, true, false], `runc agrees: ${r.runc.out}`);
});

t.test('a read-only /dev tmpfs with devpts, shm and mqueue under it', async (t) => {
  const r = run(t, {
    args: ['sh', '-c', 'ls /dev/pts/ptmx /dev/null /dev/shm >/dev/null && echo dev-ok; touch /dev/x && echo dev-writable; grep " /dev " /proc/self/mountinfo | cut -d" " -f6'],
    mutate: (c) => {
      const dev = c.mounts.find((m) => m.destination === '/dev')!;
      dev.options = [...(dev.options ?? []), 'ro'];
    },
  });
  t.equal(r.status, 0, r.out);
  t.match(r.out, /dev-ok/, 'the devices and the mounts under /dev are there');
  t.notMatch(r.out, /dev-writable/, '/dev is read-only');
  t.match(r.out, /^ro,/m, 'mountinfo shows /dev ro');
  if (r.runc) t.same([r.runc.status, /dev-ok/.test(r.runc.out), /dev-writable/.test(r.runc.out)], [0, true, false], `runc agrees: ${r.runc.out}`);
});

const HOST = 100000;

/** A user namespace config whose mapped root owns its rootfs copy, as engines set it up. */
const usernsBundle = {
  copyRootfs: true,
  prepare: (b: { dir: string; rootfs: string }) => {
    spawnSync('chown', ['-R', `${HOST}:${HOST}`, b.rootfs]);
    fs.chmodSync(b.dir, 0o755);
  },
};
function withUserns(c: BundleConfig): void {
  c.linux.namespaces!.push({ type: 'user' });
  c.linux.uidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
  c.linux.gidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
}

/** 0700, owned by host root: the container's root (host uid 100000) cannot look inside. */
function lockedDir(t: Test): string {
  const locked = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-locked-'));
  t.teardown(() => fs.rmSync(locked, { recursive: true, force: true }));
  fs.mkdirSync(path.join(locked, 'data'), { mode: 0o755 });
  fs.writeFileSync(path.join(locked, 'data', 'file'), 'behind-the-lock\n', { mode: 0o644 });
  fs.writeFileSync(path.join(locked, 'single'), 'single-file\n', { mode: 0o644 });
  return locked;
}

/**
 * locked/data (with a tmpfs at data/sub over a host file "hidden") rbound at /data of a user
 * namespace container that has CAP_SYS_ADMIN there, so it really tries to unmount.
 */
function runWithSubmount(t: Test, locked: string, script: string): ReturnType<typeof run> {
  fs.mkdirSync(path.join(locked, 'data', 'sub'));
  fs.writeFileSync(path.join(locked, 'data', 'sub', 'hidden'), 'under-the-submount\n');
  spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(locked, 'data', 'sub')]);
  t.teardown(() => spawnSync('umount', ['-l', path.join(locked, 'data', 'sub')]));
  return run(t, {
    ...usernsBundle,
    args: ['sh', '-c', script],
    mutate: (c) => {
      withUserns(c);
      for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities![set]!.push('CAP_SYS_ADMIN');
      c.mounts.push({ destination: '/data', type: 'bind', source: path.join(locked, 'data'), options: ['rbind'] });
    },
  });
}

t.test('with a user namespace, a bind source behind a directory the container root cannot traverse', async (t) => {
  const locked = lockedDir(t);
  const r = run(t, {
    ...usernsBundle,
    args: ['sh', '-c', 'cat /data/file /single; touch /data/x && echo data-writable; echo done'],
    mutate: (c) => {
      withUserns(c);
      c.mounts.push({ destination: '/data', type: 'bind', source: path.join(locked, 'data'), options: ['rbind', 'ro'] });
      c.mounts.push({ destination: '/single', type: 'bind', source: path.join(locked, 'single'), options: ['bind'] });
    },
  });
  t.equal(r.status, 0, r.out);
  t.match(r.out, /behind-the-lock/, 'the bound directory is there');
  t.match(r.out, /single-file/, 'the bound file is there');
  t.notMatch(r.out, /data-writable/, 'ro is kept');
  if (r.runc) t.same([r.runc.status, /behind-the-lock/.test(r.runc.out)], [0, true], `runc agrees: ${r.runc.out}`);
  t.same(fs.readdirSync(path.join(locked, 'data')), ['file'], 'nothing written on the host');
});

// A tree the runtime clones for the init is attached unlocked: its submounts could be
// unmounted by the container to show what they cover on the host. So tsrun refuses such a
// source (runc binds it from the container's own, locked, copy of the mount table).
t.test('with a user namespace, such a bind source with mounts under it is refused, not revealed', async (t) => {
  const locked = lockedDir(t);
  const r = runWithSubmount(t, locked, 'umount -l /data/sub; cat /data/sub/hidden; echo done');
  t.notMatch(r.out, /under-the-submount/, 'what the submount covers is never shown');
  t.equal(r.status, 1, 'refused');
  t.match(r.out, new RegExp(`^tsrun: .*mount /data.*${path.join(locked, 'data')}.*mounts under it`), `a clear message: ${r.out}`);
  if (r.runc) t.notMatch(r.runc.out, /under-the-submount/, `runc does not reveal it either: ${r.runc.out}`);
});

/** The config without a mount namespace, mounts, masked or read-only paths (what runc needs too). */
function withoutMountNamespace(c: BundleConfig): void {
  c.linux.namespaces = c.linux.namespaces!.filter((ns) => ns.type !== 'mount');
  c.mounts = [];
  delete c.linux.maskedPaths;
  delete c.linux.readonlyPaths;
}

t.test('without a mount namespace: the process and exec are chrooted into the root, host mounts untouched', async (t) => {
  const id = uniqueId('nomnt');
  const bundle = makeBundle({ copyRootfs: true, args: ['sleep', '30'], mutate: withoutMountNamespace });
  t.teardown(() => {
    if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
    bundle.cleanup();
  });
  fs.writeFileSync(path.join(bundle.rootfs, 'marker'), 'in-the-rootfs\n');
  const before = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  // Without a mount namespace nothing mounts /proc, which the last steps (tsrun-stage, like
  // runc's init) need: this rootfs is prepared on the host, with its /proc already mounted.
  spawnSync('mount', ['-t', 'proc', 'proc', path.join(bundle.rootfs, 'proc')]);
  t.teardown(() => spawnSync('umount', ['-l', path.join(bundle.rootfs, 'proc')]));
  const hostMounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const res = tsrun(['run', '-d', '--bundle', bundle.dir, id], { root, timeout: 30_000 });
  t.equal(res.status, 0, res.stderr);
  const pid = (JSON.parse(tsrun(['state', id], { root }).stdout) as { pid: number }).pid;
  t.equal(fs.readlinkSync(`/proc/${pid}/root`), fs.realpathSync(bundle.rootfs), 'its root is the bundle rootfs');
  t.equal(fs.readFileSync(`/proc/${pid}/root/marker`, 'utf8'), 'in-the-rootfs\n');
  t.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8'), hostMounts, 'the host mount table is unchanged (no bind, no propagation change)');
  const ex = tsrun(['exec', id, 'cat', '/marker'], { root, timeout: 30_000 });
  t.equal(ex.stdout, 'in-the-rootfs\n', `exec runs in the container's root too, not the host's: ${ex.stderr}`);
  tsrun(['delete', '-f', id], { root });
  spawnSync('umount', ['-l', path.join(bundle.rootfs, 'proc')]);
  t.same(residue(id, root, { bundle: bundle.dir }), [], 'no residue');
  t.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8'), before, 'the host mount table is as before');
  if (RUNC) {
    spawnSync('mount', ['-t', 'proc', 'proc', path.join(bundle.rootfs, 'proc')]);
    // runc chroots too: the same file is its /marker.
    fs.writeFileSync(path.join(bundle.dir, 'config.json'), JSON.stringify({ ...bundle.config, process: { ...bundle.config.process, args: ['cat', '/marker'] } }));
    const r = spawnSync(RUNC, ['--root', path.join(work.dir, 'runc-root'), 'run', '--bundle', bundle.dir, `${id}-runc`], { encoding: 'utf8', timeout: 30_000 });
    spawnSync(RUNC, ['--root', path.join(work.dir, 'runc-root'), 'delete', '-f', `${id}-runc`]);
    t.same([r.status, r.stdout], [0, 'in-the-rootfs\n'], `runc agrees: ${r.stderr}`);
    // runc 1.1.5 does change the host's mounts here (it binds the rootfs over itself): undo.
    for (const p of ['proc', '']) spawnSync('umount', ['-l', path.join(bundle.rootfs, p)]);
  } else {
    t.test('the same with runc', { skip: 'runc is not installed' }, () => undefined);
  }
});

for (const [what, mutate, expect] of [
  ['mounts', (c: BundleConfig) => c.mounts.push({ destination: '/proc', type: 'proc', source: 'proc' }), /config\.json: \/mounts\/0: .*mount namespace/],
  ['maskedPaths', (c: BundleConfig) => (c.linux.maskedPaths = ['/proc/kcore']), /config\.json: \/linux\/maskedPaths: unable to restrict sys entries without a private MNT namespace/],
  ['a read-only root', (c: BundleConfig) => (c.root.readonly = true), /config\.json: \/root\/readonly: .*mount namespace/],
] as const) {
  t.test(`without a mount namespace, ${what} are refused (they would change the host's mounts)`, async (t) => {
    const hostMounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    const id = uniqueId('nomnt');
    const bundle = makeBundle({ copyRootfs: true, args: ['true'], mutate: (c) => (withoutMountNamespace(c), mutate(c)) });
    t.teardown(() => {
      if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
      bundle.cleanup();
    });
    const res = tsrun(['run', '--bundle', bundle.dir, id], { root, timeout: 30_000 });
    t.equal(res.status, 1, 'refused');
    const lines = res.stderr.trim().split('\n');
    t.equal(lines.length, 1, `one line: ${res.stderr}`);
    t.match(lines[0], /^tsrun: /);
    t.match(lines[0], expect);
    t.same(residue(id, root, { bundle: bundle.dir }), [], 'no residue');
    t.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8'), hostMounts, 'the host mount table is unchanged');
  });
}

// linux.memoryPolicy (runtime-spec 1.3): set_mempolicy in the init reaches the process.
// runc 1.1.5 ignores the field: no comparison.
t.test('linux.memoryPolicy binds the process memory to the given nodes', { skip: !fs.existsSync('/proc/self/numa_maps') && 'no NUMA support in this kernel' }, async (t) => {
  const r = run(t, {
    args: ['sh', '-c', 'grep -c " bind=static:0 " /proc/self/numa_maps; grep -c " default " /proc/self/numa_maps; true'],
    mutate: (c) => (c.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0', flags: ['MPOL_F_STATIC_NODES'] }),
  });
  t.equal(r.status, 0, r.out);
  const [bound, plain] = r.out.trim().split('\n').map(Number);
  t.ok(bound > 0, `mappings bound to node 0: ${bound}`);
  t.equal(plain, 0, 'no mapping left with the default policy');
});

for (const [what, policy, expect] of [
  ['an unknown mode', { mode: 'MPOL_FAST' }, /config\.json: \/linux\/memoryPolicy\/mode: found "MPOL_FAST", expected one of MPOL_DEFAULT/],
  ['nodes in a bad format', { mode: 'MPOL_BIND', nodes: '0-' }, /config\.json: \/linux\/memoryPolicy\/nodes: found "0-"/],
  ['nodes the host does not have', { mode: 'MPOL_BIND', nodes: '63' }, /linux\.memoryPolicy \(MPOL_BIND nodes "63"\): set_mempolicy.*EINVAL/],
] as const) {
  t.test(`linux.memoryPolicy with ${what} is refused`, async (t) => {
    const r = run(t, { args: ['true'], mutate: (c) => (c.linux.memoryPolicy = policy as never) });
    t.equal(r.status, 1, r.out);
    t.match(r.out.trim(), /^tsrun: /);
    t.equal(r.out.trim().split('\n').length, 1, 'one line');
    t.match(r.out, expect);
  });
}

t.test('with a user namespace, a 0700 directory owned by the container root is reached by the init itself', async (t) => {
  const locked = lockedDir(t);
  fs.chownSync(locked, HOST, HOST); // 0700, but the mapped root's own
  const r = runWithSubmount(t, locked, 'cat /data/file; umount -l /data/sub && echo unmounted; echo done');
  t.equal(r.status, 0, r.out);
  t.match(r.out, /behind-the-lock/, 'bound, submounts and all');
  t.notMatch(r.out, /unmounted/, 'the submount is locked (bound from the container\'s own copy of the mount table)');
});

// Fields tsrun does not implement on this host are refused, never ignored (linux.netDevices:
// test/integration/net-devices.test.ts).
for (const [what, mutate, expect] of [
  ['linux.intelRdt', (c: BundleConfig) => (c.linux.intelRdt = { closID: 'tsrun-test', l3CacheSchema: 'L3:0=f' }), /^tsrun: linux\.intelRdt: /],
] as const) {
  t.test(`${what} is refused, not ignored`, async (t) => {
    const r = run(t, { args: ['sh', '-c', 'echo the-process-ran'], mutate });
    t.equal(r.status, 1, r.out);
    t.notMatch(r.out, /the-process-ran/);
    t.equal(r.out.trim().split('\n').length, 1, `one line: ${r.out}`);
    t.match(r.out.trim(), expect);
  });
}
