// scripts/make-rootfs.sh builds a usable busybox tree, and the test helpers built on it
// (ensureRootfs, makeBundle, residue) behave. The residue check is exercised with runc
// when it is installed, so the helpers are trusted before tsrun's own tests use them.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBundle, mountsUnder } from '../helpers/bundle';
import { ensureRootfs, makeRootfs } from '../helpers/rootfs';
import { freshRoot, pidAlive, residue, uniqueId, waitFor } from '../helpers/tsrun';

const isRoot = process.getuid?.() === 0;
const haveBusybox = fs.existsSync('/bin/busybox');

t.test('make-rootfs.sh builds a busybox tree', { skip: !haveBusybox && 'no /bin/busybox (apt-get install busybox-static)' }, async (t) => {
  const rootfs = ensureRootfs();
  t.ok(path.isAbsolute(rootfs));
  t.equal(ensureRootfs(), rootfs, 'cached');
  const bb = path.join(rootfs, 'bin', 'busybox');
  t.ok(fs.statSync(bb).mode & 0o111, 'bin/busybox is executable');
  t.equal(fs.readlinkSync(path.join(rootfs, 'bin', 'sh')), 'busybox', 'bin/sh -> busybox');
  const applets = spawnSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  t.ok(applets.length > 100, `${applets.length} applets`);
  const missing = applets.filter((a) => a !== 'busybox' && !fs.existsSync(path.join(rootfs, 'bin', a)));
  t.same(missing, [], 'every applet has a link in bin/');
  for (const d of ['sbin', 'usr/bin', 'usr/sbin']) {
    t.ok(fs.existsSync(path.join(rootfs, d, 'sh')), `${d}/sh resolves`);
  }
  const passwd = fs.readFileSync(path.join(rootfs, 'etc', 'passwd'), 'utf8');
  t.match(passwd, /^root:x:0:0:/m);
  t.match(passwd, /^nobody:x:65534:65534:/m);
  t.match(passwd, /^tester:x:1000:1000:/m);
  const group = fs.readFileSync(path.join(rootfs, 'etc', 'group'), 'utf8');
  t.match(group, /^users:x:100:.*tester/m, 'tester has supplementary groups');
  t.equal(fs.readFileSync(path.join(rootfs, 'etc', 'hostname'), 'utf8').trim(), 'tsrun');
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc', 'root', 'home', 'var/run']) {
    t.ok(fs.statSync(path.join(rootfs, d)).isDirectory(), `${d}/ exists`);
  }
  t.equal(fs.statSync(path.join(rootfs, 'tmp')).mode & 0o7777, 0o1777, 'tmp is 1777');
});

t.test('make-rootfs.sh is idempotent and fast', { skip: !haveBusybox && 'no /bin/busybox' }, async (t) => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-mkrootfs-')), 'rootfs');
  t.teardown(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));
  let start = Date.now();
  makeRootfs(dir);
  const first = Date.now() - start;
  fs.writeFileSync(path.join(dir, 'etc', 'passwd'), 'garbage\n');
  start = Date.now();
  makeRootfs(dir);
  const second = Date.now() - start;
  t.ok(first < 3000 && second < 3000, `took ${first} ms, then ${second} ms`);
  t.match(fs.readFileSync(path.join(dir, 'etc', 'passwd'), 'utf8'), /^root:x:0:0:/m, 'files refreshed');
  t.equal(fs.readlinkSync(path.join(dir, 'bin', 'ls')), 'busybox');
});

t.test('the rootfs runs: chroot /bin/sh', { skip: (!isRoot || !haveBusybox) && 'needs root and busybox' }, async (t) => {
  const rootfs = ensureRootfs();
  const r = spawnSync('chroot', [rootfs, '/bin/sh', '-c', 'echo ok; id -G tester; ls /usr/bin/env'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines[0], 'ok');
  t.same(lines[1].split(' ').map(Number).sort((a, b) => a - b), [4, 10, 29, 44, 100, 1000], 'tester groups');
  t.equal(lines[2], '/usr/bin/env');
});

t.test('makeBundle writes a config and cleans up', { skip: !haveBusybox && 'no /bin/busybox' }, async (t) => {
  const b = makeBundle({ args: ['/bin/echo', 'hi'], env: ['FOO=bar'], mutate: (c) => { c.hostname = 'h1'; } });
  const cfg = JSON.parse(fs.readFileSync(path.join(b.dir, 'config.json'), 'utf8'));
  t.same(cfg.process.args, ['/bin/echo', 'hi']);
  t.ok(cfg.process.env.includes('FOO=bar'));
  t.equal(cfg.hostname, 'h1');
  t.equal(cfg.root.path, ensureRootfs(), 'shared rootfs by absolute path');
  b.config.hostname = 'h2';
  b.write();
  t.equal(JSON.parse(fs.readFileSync(b.configPath, 'utf8')).hostname, 'h2');
  b.cleanup();
  t.notOk(fs.existsSync(b.dir));

  const c = makeBundle({ copyRootfs: true });
  t.equal(c.config.root.path, 'rootfs');
  t.equal(c.rootfs, path.join(c.dir, 'rootfs'));
  t.equal(fs.readlinkSync(path.join(c.rootfs, 'bin', 'sh')), 'busybox');
  t.notOk(fs.existsSync(path.join(c.rootfs, 'rootfs')), 'copied as the dir itself, not inside it');
  t.same(mountsUnder(c.dir), []);
  c.cleanup();
  t.notOk(fs.existsSync(c.dir));
});

const haveRunc = spawnSync('runc', ['--version']).status === 0;
t.test('residue() sees a runc container and its absence', { skip: (!isRoot || !haveRunc || !haveBusybox) && 'needs root, runc and busybox' }, async (t) => {
  const root = freshRoot();
  const id = uniqueId('residue');
  const b = makeBundle({ args: ['/bin/sleep', '300'] });
  const pidFile = path.join(b.dir, 'pid');
  t.teardown(() => {
    spawnSync('runc', ['--root', root, 'delete', '--force', id]);
    b.cleanup();
    fs.rmSync(root, { recursive: true, force: true });
  });
  t.same(residue(id, root, { bundle: b.dir }), [], 'nothing before create');
  // No pipes: the container inherits runc's stdio and would hold a pipe open.
  const errFile = path.join(b.dir, 'create.stderr');
  const errFd = fs.openSync(errFile, 'w');
  const c = spawnSync('runc', ['--root', root, 'create', '--bundle', b.dir, '--pid-file', pidFile, id], {
    stdio: ['ignore', 'ignore', errFd],
    timeout: 30_000,
  });
  fs.closeSync(errFd);
  t.equal(c.status, 0, fs.readFileSync(errFile, 'utf8'));
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.ok(pidAlive(pid), 'init alive');
  const found = residue(id, root, { bundle: b.dir });
  t.comment(found.join('\n'));
  t.ok(found.some((l) => l.startsWith('state: ')), 'state dir seen');
  t.ok(found.some((l) => l.startsWith('process: ')), 'init process seen');
  const d = spawnSync('runc', ['--root', root, 'delete', '--force', id], { encoding: 'utf8', timeout: 30_000 });
  t.equal(d.status, 0, d.stderr);
  t.ok(waitFor(() => !pidAlive(pid), 10_000), 'init gone');
  t.same(residue(id, root, { bundle: b.dir }), [], 'nothing after delete');
});
