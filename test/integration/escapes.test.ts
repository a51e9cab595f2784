// The known runtime escapes, each as a regression test (root). Each test was checked to
// fail on a build with the protection removed (see docs/security.md).
// Build first (`npm run build`).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O } from '../../bindings/constants';
import { makeBundle } from '../helpers/bundle';
import { rootSuite, runIn, tempDir } from '../helpers/container';
import { cleanEnv, forceDelete, residue, tsrun, tsrunJs, uniqueId, waitFor } from '../helpers/tsrun';

const root = rootSuite();
const work = tempDir('tsrun-escapes-');
t.teardown(() => work.remove());

/** Run tsrun with another node binary (and optionally under setpriv), output to files. */
function tsrunWith(node: string, args: string[], prefix: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const out = path.join(work.dir, `out-${uniqueId('o')}`);
  const err = `${out}.err`;
  const o = fs.openSync(out, 'w');
  const e = fs.openSync(err, 'w');
  try {
    const argv = [...prefix, node, tsrunJs, '--root', root, ...args];
    const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', o, e], env: cleanEnv(), timeout: 60_000 });
    return { status: r.status, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8') };
  } finally {
    fs.closeSync(o);
    fs.closeSync(e);
    fs.rmSync(out, { force: true });
    fs.rmSync(err, { force: true });
  }
}

const initPid = (id: string): number => (JSON.parse(tsrun(['state', id], { root }).stdout) as { pid: number }).pid;

t.test('CVE-2019-5736: the init\'s /proc/<pid>/exe (node) cannot be opened for writing, even later', async (t) => {
  // A private copy of node runs tsrun and the init: a broken build damages only the copy.
  const node = path.join(work.dir, 'node');
  fs.copyFileSync(process.execPath, node);
  fs.chmodSync(node, 0o755);
  const before = fs.readFileSync(node);
  const id = uniqueId('exe');
  const bundle = makeBundle({ args: ['sleep', '2'] });
  try {
    const create = tsrunWith(node, ['create', '--bundle', bundle.dir, id]);
    t.equal(create.status, 0, create.stderr);
    const pid = initPid(id);
    // A created container waits in tsrun-stage, not in node: that is the file it can reach.
    t.match(fs.readlinkSync(`/proc/${pid}/exe`), /\/tsrun-stage$/, 'the created init runs tsrun-stage');
    // Directly: refused by the read-only mount (not only ETXTBSY).
    t.throws(() => fs.openSync(`/proc/${pid}/exe`, O.WRONLY | O.TRUNC), { code: 'EROFS' }, 'open for write: EROFS');
    // The 2019 attack: keep a handle, wait until nothing executes the file, reopen it for writing.
    const handle = fs.openSync(`/proc/${pid}/exe`, O.PATH);
    try {
      const start = tsrunWith(node, ['start', id]);
      t.equal(start.status, 0, start.stderr);
      t.ok(waitFor(() => {
        try {
          return !fs.readlinkSync(`/proc/${pid}/exe`).endsWith('/tsrun-stage');
        } catch {
          return true;
        }
      }), 'the init has exec\'d the container process');
      // O_TRUNC makes the kernel check the mount before the text-busy count: without it a
      // still-running copy of node anywhere on the machine answers ETXTBSY first.
      let code = 'opened';
      try {
        fs.closeSync(fs.openSync(`/proc/self/fd/${handle}`, O.WRONLY | O.TRUNC));
      } catch (err) {
        code = (err as NodeJS.ErrnoException).code ?? String(err);
      }
      t.equal(code, 'EROFS', `reopening the kept handle for writing fails: the file is on a read-only mount (got ${code})`);
    } finally {
      fs.closeSync(handle);
    }
    t.ok(fs.readFileSync(node).equals(before), 'the node binary is unchanged');
  } finally {
    forceDelete(id, root);
    t.same(residue(id, root, { bundle: bundle.dir }), []);
    bundle.cleanup();
  }
});

t.test('the init is non-dumpable: a process with the same uid and capabilities cannot reach its exe or root', async (t) => {
  // Without CAP_SYS_PTRACE on either side, the capability check passes (equal sets) and only
  // the init's non-dumpable flag stands between the reader and /proc/<init>/exe, root, mem.
  const noPtrace = ['setpriv', '--bounding-set', '-sys_ptrace'];
  const as = (cmd: string[]) => spawnSync(noPtrace[0], [...noPtrace.slice(1), ...cmd], { encoding: 'utf8' });
  const id = uniqueId('dump');
  const bundle = makeBundle({ args: ['true'] });
  try {
    const create = tsrunWith(process.execPath, ['create', '--bundle', bundle.dir, id], noPtrace);
    t.equal(create.status, 0, create.stderr);
    const pid = initPid(id);
    t.notMatch(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), /^CapPrm:\s+000001ffffffffff$/m, 'the init lacks CAP_SYS_PTRACE');
    const sleeper = spawnSync(noPtrace[0], [...noPtrace.slice(1), 'sh', '-c', 'sleep 5 & readlink /proc/$!/exe; ls /proc/$!/root/ >/dev/null && echo root-ok; kill $!'], { encoding: 'utf8' });
    t.match(sleeper.stdout, /sleep|busybox[\s\S]*root-ok/, 'control: the reader reaches a dumpable process of the same uid');
    for (const cmd of [['readlink', `/proc/${pid}/exe`], ['ls', `/proc/${pid}/root/`], ['head', '-c1', `/proc/${pid}/mem`]]) {
      const r = as(cmd);
      t.not(r.status, 0, `${cmd.join(' ')} fails`);
      if (cmd[0] !== 'readlink') t.match(r.stderr, /Permission denied|Operation not permitted/); // readlink says nothing
    }
  } finally {
    forceDelete(id, root);
    t.same(residue(id, root, { bundle: bundle.dir }), []);
    bundle.cleanup();
  }
});

t.test('CVE-2024-21626: process.cwd /proc/self/fd/<n> never leaves the rootfs', async (t) => {
  fs.writeFileSync(path.join(root, 'HOST-MARKER'), 'x');
  const escaped: string[] = [];
  let refused = 0;
  for (let n = 3; n <= 30; n++) {
    const r = runIn({ root, args: ['sh', '-c', 'ls -a . .. ../.. 2>&1; echo END'], mutate: (c) => (c.process.cwd = `/proc/self/fd/${n}`) });
    t.same(r.residue, [], `fd ${n}: nothing left behind`);
    if (r.status !== 0) {
      refused++;
      t.match(r.stderr, /cwd|not a directory|no such file|outside/, `fd ${n}: a clean error`);
      continue;
    }
    if (/HOST-MARKER|state\.json|exec\.fifo/.test(r.stdout)) escaped.push(`fd ${n}: ${r.stdout.replace(/\s+/g, ' ')}`);
  }
  t.same(escaped, [], 'no cwd reached the host');
  t.ok(refused > 0, `some cwd were refused (${refused})`);
  fs.rmSync(path.join(root, 'HOST-MARKER'), { force: true });
});

t.test('no fd of the caller above 2 reaches the container', async (t) => {
  const id = uniqueId('fds');
  const bundle = makeBundle({ args: ['sh', '-c', 'ls /proc/self/fd'] });
  const out = path.join(work.dir, 'fds.out');
  const o = fs.openSync(out, 'w');
  const extra = [fs.openSync('/etc/hostname', 'r'), fs.openSync(work.dir, 'r'), fs.openSync('/etc/passwd', 'r')];
  try {
    const r = spawnSync(process.execPath, [tsrunJs, '--root', root, 'run', '--bundle', bundle.dir, id], {
      stdio: ['ignore', o, 'inherit', ...extra, 'ignore', 'ignore', extra[0]], env: cleanEnv(),
    });
    t.equal(r.status, 0);
    const fds = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
    // ls has its own directory fd open (3).
    t.same(fds.filter((fd) => fd > 3), [], `only 0-2 (and ls's own 3): ${fds.join(' ')}`);
  } finally {
    fs.closeSync(o);
    for (const fd of extra) fs.closeSync(fd);
    forceDelete(id, root);
    bundle.cleanup();
  }
});

t.test('CVE-2021-30465 class: symlinks in the rootfs cannot make tsrun mount or write outside it', async (t) => {
  const host = fs.mkdtempSync(path.join(work.dir, 'host-'));
  fs.writeFileSync(path.join(host, 'secret'), 'host');
  const r = runIn({
    root,
    copyRootfs: true,
    args: ['sh', '-c', [
      `grep -c " ${host}/sub " /proc/self/mountinfo`, // the tmpfs landed inside the rootfs
      `grep -c " ${host}/sub2 " /proc/self/mountinfo`,
      `echo "masked:$(cat ${host}/secret)"`, // the rootfs's own copy is masked
      `touch ${host}/ro/x 2>/dev/null && echo ro:writable || echo ro:readonly`,
    ].join('; ')],
    prepare: (b) => {
      const inside = path.join(b.rootfs, host);
      fs.mkdirSync(path.join(inside, 'ro'), { recursive: true });
      fs.writeFileSync(path.join(inside, 'secret'), 'inside');
      fs.symlinkSync(host, path.join(b.rootfs, 'abs')); // absolute, to the host dir
      fs.symlinkSync(`../../../../../../../..${host}`, path.join(b.rootfs, 'rel')); // climbing out
      fs.symlinkSync(path.join(host, 'secret'), path.join(b.rootfs, 'm'));
      fs.symlinkSync(path.join(host, 'ro'), path.join(b.rootfs, 'r'));
      b.config.mounts.push({ destination: '/abs/sub', type: 'tmpfs', source: 'tmpfs', options: [] });
      b.config.mounts.push({ destination: '/rel/sub2', type: 'tmpfs', source: 'tmpfs', options: [] });
      b.config.linux.maskedPaths = [...(b.config.linux.maskedPaths ?? []), '/m'];
      b.config.linux.readonlyPaths = [...(b.config.linux.readonlyPaths ?? []), '/r'];
      b.write();
    },
  });
  t.equal(r.status, 0, r.stderr);
  t.same(r.residue, []);
  t.same(fs.readdirSync(host).sort(), ['secret'], 'nothing was created in the host directory');
  t.equal(fs.readFileSync(path.join(host, 'secret'), 'utf8'), 'host', 'the host file is untouched');
  t.same(r.stdout.trim().split('\n'), ['1', '1', 'masked:', 'ro:readonly'], 'mounts, mask and read-only bind all landed inside the rootfs');
});
