// Namespace paths that are not /proc/PID/ns links: a namespace file bind-mounted elsewhere,
// as `ip netns` and CNI plugins make them (/run/netns/NAME). /proc/self/fd/N of such a file
// names the mount point, not "net:[inode]": the type check of create must still accept it.
// Build first (`npm run build`).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBundle } from '../helpers/bundle';
import { rootSuite } from '../helpers/container';
import { forceDelete, residue, state, tsrun, uniqueId } from '../helpers/tsrun';

const root = rootSuite();

t.test('a bind-mounted network namespace is joined', async (t) => {
  const first = uniqueId('nsbind-a');
  const second = uniqueId('nsbind-b');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-netns-'));
  const nsFile = path.join(dir, 'net');
  fs.writeFileSync(nsFile, '');
  const a = makeBundle({ args: ['sleep', '300'] });
  const b = makeBundle({
    args: ['sleep', '300'],
    mutate: (c) => {
      c.linux.namespaces = c.linux.namespaces!.map((ns) => (ns.type === 'network' ? { type: 'network', path: nsFile } : ns));
    },
  });
  let mounted = false;
  try {
    const r1 = tsrun(['run', '-d', '--bundle', a.dir, first], { root });
    t.equal(r1.status, 0, `run -d of the first container: ${r1.stderr}`);
    const pidA = state(first, root).pid;
    const m = spawnSync('mount', ['--bind', `/proc/${pidA}/ns/net`, nsFile], { encoding: 'utf8' });
    t.equal(m.status, 0, `bind-mounted its network namespace: ${m.stderr}`);
    mounted = m.status === 0;
    const r2 = tsrun(['run', '-d', '--bundle', b.dir, second], { root });
    t.equal(r2.stderr, '', 'nothing on stderr');
    t.equal(r2.status, 0, 'run -d of the container joining it exits 0');
    if (r2.status === 0) {
      const pidB = state(second, root).pid;
      t.equal(fs.readlinkSync(`/proc/${pidB}/ns/net`), fs.readlinkSync(`/proc/${pidA}/ns/net`), 'both are in the same network namespace');
    }
  } finally {
    forceDelete(second, root);
    forceDelete(first, root);
    if (mounted) spawnSync('umount', [nsFile]);
    t.same(residue(second, root, { bundle: b.dir }), [], 'nothing left of the joining container');
    t.same(residue(first, root, { bundle: a.dir }), [], 'nothing left of the first container');
    fs.rmSync(dir, { recursive: true, force: true });
    b.cleanup();
    a.cleanup();
  }
});
