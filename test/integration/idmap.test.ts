// Idmapped mounts (mount options "idmap"/"ridmap", per-mount uidMappings/gidMappings), as
// root: a host directory (owned by host uid 0, with a file of host uid 1000) bound into a
// container whose root is host uid 100000 shows the owners through the mount's mapping,
// files made through it get the mapped-back host owner, per-mount mappings win over the
// container's, "ridmap" maps submounts too, and bad configs are refused (exit 1, the file,
// the JSON path and the value named, nothing left behind).
import t, { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BundleConfig } from '../helpers/bundle';
import { makeBundle } from '../helpers/bundle';
import { fdHolders, lastLine, RFC3339, rootSuite, runIn } from '../helpers/container';
import { forceDelete, residue, tsrun, uniqueId } from '../helpers/tsrun';

const root = rootSuite();
const skip = fs.existsSync(path.resolve(__dirname, '../../dist/tsrun-userns')) ? false : 'dist/tsrun-userns missing (a C compiler at build time)';

const HOST = 100000;
const withUserns = (c: BundleConfig) => {
  c.linux.namespaces!.push({ type: 'user' });
  c.linux.uidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
  c.linux.gidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
};
/** As engines do for a user namespace: the rootfs belongs to the mapped root. */
const ownedRootfs = {
  copyRootfs: true,
  prepare: (b: { dir: string; rootfs: string }) => {
    spawnSync('chown', ['-R', `${HOST}:${HOST}`, b.rootfs]);
    fs.chmodSync(b.dir, 0o755);
  },
};
const sh = (script: string) => ['sh', '-c', script];
const lines = (text: string) => text.split('\n').map((l) => l.trim().replace(/\s+/g, ' ')).filter(Boolean);

/** `tsrun-userns hold` helpers still alive (each must be gone once create returns). */
function holdHelpers(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmd[0].endsWith('tsrun-userns') && cmd[1] === 'hold') out.push(`${pid} ${cmd.join(' ')}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** A host directory owned by host 0:0 with root-file (0:0) and user-file (1000:1000). */
function hostTree(t: Test, mode = 0o755): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-idmap-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, mode);
  fs.writeFileSync(path.join(dir, 'root-file'), 'r\n');
  fs.writeFileSync(path.join(dir, 'user-file'), 'u\n');
  fs.chownSync(path.join(dir, 'user-file'), 1000, 1000);
  return dir;
}

const STAT = 'stat -c "%n %u %g" /data /data/root-file /data/user-file';
/** The shell's open fds (ls -l lines "... N -> TARGET"). */
const FDS = 'ls -l /proc/$$/fd';

t.test('idmap with the container\'s mappings (container 0 = host 100000)', { skip }, async (t) => {
  const src = hostTree(t);
  const r = runIn({
    root,
    ...ownedRootfs,
    args: sh(`${STAT}; ls -ln /data | grep user-file; touch /data/made-inside && echo touched; touch /data-ro/x 2>&1 || true; cat /proc/self/uid_map; ${FDS}`),
    mutate: (c) => {
      withUserns(c);
      c.mounts.push({ destination: '/data', type: 'bind', source: src, options: ['rbind', 'idmap'] });
      c.mounts.push({ destination: '/data-ro', type: 'bind', source: src, options: ['bind', 'ro', 'idmap'] });
    },
  });
  t.equal(r.status, 0, `run: ${r.stderr.trim()}`);
  t.same(r.residue, [], 'nothing left');
  t.same(holdHelpers(), [], 'no helper process left');
  const out = lines(r.stdout);
  t.equal(out[0], '/data 0 0', 'the host-root-owned directory shows as container root');
  t.equal(out[1], '/data/root-file 0 0', 'a host uid 0 file shows as 0');
  t.equal(out[2], '/data/user-file 1000 1000', 'a host uid 1000 file shows as 1000');
  t.match(out[3], /^-rw-r--r-- 1 1000 1000 .* user-file$/, 'ls -ln agrees');
  t.equal(out[4], 'touched');
  t.match(out[5], /Read-only file system/, 'ro applies to an idmapped mount');
  t.equal(out[6], `0 ${HOST} 65536`, 'the container does have its user namespace');
  t.same(out.slice(7).map((l) => / (\d+) -> (.*)$/.exec(l)).filter((m) => m && Number(m[1]) > 2).map((m) => m![0]), [], 'neither the mount socket nor a mount fd reaches the container');
  const made = fs.statSync(path.join(src, 'made-inside'));
  t.same([made.uid, made.gid], [0, 0], 'a file container root made through the mount belongs to host uid 0');
});

t.test('with a terminal too (the console socket, the mount socket and the state dir fd side by side)', { skip }, async (t) => {
  const src = hostTree(t);
  const r = runIn({
    root,
    ...ownedRootfs,
    args: sh('stat -c "%n %u %g" /data/user-file; tty'),
    mutate: (c) => {
      withUserns(c);
      c.process.terminal = true;
      c.mounts.push({ destination: '/data', type: 'bind', source: src, options: ['rbind', 'ridmap'] });
    },
  });
  t.equal(r.status, 0, `run: ${r.stderr.trim()}`);
  t.same(r.residue, [], 'nothing left');
  t.same(lines(r.stdout.replace(/\r/g, '')), ['/data/user-file 1000 1000', '/dev/pts/0']);
});

t.test('per-mount mappings (no idmap option: mappings imply it, as in runc) win over the container\'s', { skip }, async (t) => {
  const src = hostTree(t, 0o777);
  // on-disk 1000 <-> host 100000 (container 0); on-disk 0 <-> host 100500 (container 500)
  const maps = [{ containerID: 1000, hostID: HOST, size: 1 }, { containerID: 0, hostID: HOST + 500, size: 1 }];
  const r = runIn({
    root,
    ...ownedRootfs,
    args: sh(`${STAT}; touch /data/made-inside && echo touched; stat -c "%n %u %g" /other/user-file`),
    mutate: (c) => {
      withUserns(c);
      c.mounts.push({ destination: '/data', type: 'bind', source: src, options: ['bind'], uidMappings: maps, gidMappings: maps });
      // A second mount with the same mappings shares their user namespace.
      c.mounts.push({ destination: '/other', type: 'bind', source: src, options: ['bind', 'idmap'], uidMappings: maps, gidMappings: maps });
    },
  });
  t.equal(r.status, 0, `run: ${r.stderr.trim()}`);
  t.same(r.residue, [], 'nothing left');
  t.same(holdHelpers(), [], 'no helper process left');
  const out = lines(r.stdout);
  t.equal(out[0], '/data 500 500', 'host 0 shows as 500 (on-disk 0 -> host 100500 -> container 500)');
  t.equal(out[1], '/data/root-file 500 500');
  t.equal(out[2], '/data/user-file 0 0', 'host 1000 shows as container root (on-disk 1000 -> host 100000)');
  t.equal(out[3], 'touched');
  t.equal(out[4], '/other/user-file 0 0');
  const made = fs.statSync(path.join(src, 'made-inside'));
  t.same([made.uid, made.gid], [1000, 1000], 'container root writes on-disk 1000 through this mount');
});

t.test('a container without a user namespace: per-mount mappings only', { skip }, async (t) => {
  const src = hostTree(t);
  const maps = [{ containerID: 0, hostID: HOST, size: 65536 }];
  const r = runIn({
    root,
    copyRootfs: true, // /data is made in it
    args: sh(`${STAT}; touch /data/x 2>&1 || true`),
    mutate: (c) => c.mounts.push({ destination: '/data', type: 'bind', source: src, options: ['bind', 'idmap'], uidMappings: maps, gidMappings: maps }),
  });
  t.equal(r.status, 0, `run: ${r.stderr.trim()}`);
  t.same(r.residue, [], 'nothing left');
  const out = lines(r.stdout);
  t.equal(out[0], `/data ${HOST} ${HOST}`, 'host 0 shows as 100000 to a host-root container');
  t.equal(out[2], `/data/user-file ${HOST + 1000} ${HOST + 1000}`);
  t.match(out[3], /Value too large/, 'host root is not in the mount\'s mapping: EOVERFLOW, as with runc');
});

t.test('ridmap maps the submounts of an rbind, idmap only the top', { skip }, async (t) => {
  const src = hostTree(t);
  const sub = hostTree(t);
  fs.mkdirSync(path.join(src, 'sub'));
  t.equal(spawnSync('mount', ['--bind', sub, path.join(src, 'sub')]).status, 0, 'host submount');
  t.teardown(() => {
    spawnSync('umount', [path.join(src, 'sub')]);
  });
  const r = runIn({
    root,
    ...ownedRootfs,
    args: sh('stat -c "%n %u %g" /r/user-file /r/sub/user-file /i/user-file /i/sub/user-file'),
    mutate: (c) => {
      withUserns(c);
      c.mounts.push({ destination: '/r', type: 'bind', source: src, options: ['rbind', 'ridmap'] });
      c.mounts.push({ destination: '/i', type: 'bind', source: src, options: ['rbind', 'idmap'] });
    },
  });
  t.equal(r.status, 0, `run: ${r.stderr.trim()}`);
  t.same(r.residue, [], 'nothing left');
  t.same(lines(r.stdout), [
    '/r/user-file 1000 1000',
    '/r/sub/user-file 1000 1000',
    '/i/user-file 1000 1000',
    '/i/sub/user-file 65534 65534',
  ], 'ridmap: the submount is mapped too; idmap: the submount keeps host ids (1000 is not mapped: overflow id)');
});

// --- refused: exit 1, config.json + JSON path + value, nothing left behind
interface Bad {
  name: string;
  userns?: boolean;
  mount: (src: string) => BundleConfig['mounts'][number];
  expect: (string | RegExp)[];
}
const M = 'config.json: /mounts/6';
const bad: Bad[] = [
  { name: 'idmap on a tmpfs', mount: () => ({ destination: '/x', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'idmap'] }), userns: true, expect: [`${M}/options/1`, '"idmap"', 'only bind mounts'] },
  { name: 'mappings on a tmpfs', mount: () => ({ destination: '/x', type: 'tmpfs', source: 'tmpfs', uidMappings: [{ containerID: 0, hostID: 1, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }), expect: [`${M}/uidMappings`, 'only bind mounts'] },
  { name: 'uidMappings without gidMappings', mount: (src) => ({ destination: '/x', type: 'bind', source: src, options: ['rbind', 'idmap'], uidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }), expect: [`${M}/gidMappings`, 'found nothing', 'both uidMappings and gidMappings'] },
  { name: 'empty uidMappings', mount: (src) => ({ destination: '/x', type: 'bind', source: src, options: ['ridmap', 'rbind'], uidMappings: [], gidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }), expect: [`${M}/uidMappings`, 'found []'] },
  { name: 'idmap without mappings or a user namespace', mount: (src) => ({ destination: '/x', type: 'bind', source: src, options: ['rbind', 'ridmap'] }), expect: [`${M}/options/1`, '"ridmap"', 'user namespace'] },
  { name: 'idmap source missing', userns: true, mount: (src) => ({ destination: '/x', type: 'bind', source: path.join(src, 'no-such-dir'), options: ['rbind', 'idmap'] }), expect: ['/x', 'open_tree', 'no-such-dir', 'no such file or directory'] },
  { name: 'mappings the kernel refuses (overlapping)', mount: (src) => ({ destination: '/x', type: 'bind', source: src, options: ['bind', 'idmap'], uidMappings: [{ containerID: 0, hostID: HOST, size: 10 }, { containerID: 5, hostID: HOST * 2, size: 10 }], gidMappings: [{ containerID: 0, hostID: HOST, size: 1 }] }), expect: [`${M}/uidMappings`, 'the kernel refused', 'uid_map', 'invalid argument'] },
];

t.test('refused idmapped mounts', { skip }, async (t) => {
  for (const c of bad) {
    t.test(c.name, async (t) => {
      const src = hostTree(t);
      const id = uniqueId('idmap-bad');
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-idmap-log-'));
      t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
      const bundle = makeBundle({
        args: sh('echo the-user-process-ran'),
        mutate: (cfg) => {
          if (c.userns) withUserns(cfg);
          cfg.mounts.push(c.mount(src));
        },
      });
      t.teardown(() => bundle.cleanup());
      const log = path.join(work, 'log');
      const out = path.join(work, 'out');
      const err = path.join(work, 'err');
      const r = tsrun(['create', '--bundle', bundle.dir, id], { root, globalArgs: ['--log', log, '--log-format', 'json'], stdoutFile: out, stderrFile: err });
      if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
      t.equal(r.status, 1, `exit status 1: ${r.stderr.trim()}`);
      for (const e of c.expect) t.match(r.stderr, e, `stderr names ${String(e)}`);
      t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      const entry = JSON.parse(lastLine(log)) as { level: string; msg: string; time: string };
      t.equal(entry.level, 'error');
      t.ok(r.stderr.includes(entry.msg), 'the log has the same message');
      t.match(entry.time, RFC3339);
      t.same(residue(id, root, { bundle: bundle.dir }), [], 'no residue');
      t.same(fdHolders([out, err, log]), [], 'no process holds the stdio tsrun was given');
      t.same(holdHelpers(), [], 'no helper process left');
      t.same(fs.readdirSync(src).sort(), ['root-file', 'user-file'], 'the source is untouched');
    });
  }
});
