// A container that joins another's pid namespace (a pod sharing its processes) with a
// read-only root (Kubernetes' readOnlyRootFilesystem), as runtime-tools' default config has
// it. Its init is not in that pid namespace, so after pivot_root the container's /proc has
// no /proc/self for it: the root was remounted through /proc/self/fd and create failed with
// ENOENT. Build first (`npm run build`).
import t from 'tap';
import { makeBundle } from '../helpers/bundle';
import { rootSuite } from '../helpers/container';
import { forceDelete, residue, state, tsrun, uniqueId } from '../helpers/tsrun';

const root = rootSuite();

t.test('a pod container with a read-only root joins the pid namespace and cannot write its root', async (t) => {
  const first = uniqueId('podro-a');
  const second = uniqueId('podro-b');
  const a = makeBundle({ args: ['sleep', '300'] });
  let b: ReturnType<typeof makeBundle> | undefined;
  try {
    const r1 = tsrun(['run', '-d', '--bundle', a.dir, first], { root });
    t.equal(r1.status, 0, `run -d of the first container: ${r1.stderr}`);
    const pid = state(first, root).pid;
    b = makeBundle({
      args: ['sh', '-c', 'cat /proc/1/comm; if touch /written 2>/dev/null; then echo root-writable; else echo root-read-only; fi'],
      mutate: (c) => {
        c.root.readonly = true;
        c.linux.namespaces = c.linux.namespaces!.map((ns) => (ns.type === 'pid' ? { type: 'pid', path: `/proc/${pid}/ns/pid` } : ns));
      },
    });
    const r2 = tsrun(['run', '--bundle', b.dir, second], { root });
    t.equal(r2.stderr, '', 'nothing on stderr');
    t.equal(r2.status, 0, 'run of the pod container exits 0');
    t.equal(r2.stdout, 'sleep\nroot-read-only\n', 'it sees the first container as pid 1, and its root is read-only');
  } finally {
    forceDelete(second, root);
    forceDelete(first, root);
    t.same(residue(second, root, b ? { bundle: b.dir } : {}), [], 'nothing left of the pod container');
    t.same(residue(first, root, { bundle: a.dir }), [], 'nothing left of the first container');
    b?.cleanup();
    a.cleanup();
  }
});
