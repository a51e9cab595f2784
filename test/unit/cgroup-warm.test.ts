// warmAttachLock (src/cgroups/index.ts): a no-op move of tsrun itself into the cgroup it is
// in, written to the right cgroup.procs of a fake cgroupfs tree; never an error.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Layout, warmAttachLock } from '../../src/cgroups';

const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-warm-'));
t.teardown(() => fs.rmSync(tree, { recursive: true, force: true }));
const procs = (dir: string) => {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'cgroup.procs');
  fs.writeFileSync(file, '');
  return file;
};

t.test('hybrid: our own cgroup in the unified hierarchy', async (t) => {
  const unified = procs(path.join(tree, 'unified/user.slice/s1'));
  const memory = procs(path.join(tree, 'memory/user.slice'));
  const layout: Layout = { root: tree, version: 1, v1: { memory: path.join(tree, 'memory') }, unified: path.join(tree, 'unified') };
  warmAttachLock(layout, { memory: '/user.slice', '': '/user.slice/s1' });
  t.equal(fs.readFileSync(unified, 'utf8'), '0', '"0": the writer itself');
  t.equal(fs.readFileSync(memory, 'utf8'), '', 'the memory hierarchy is not touched');
});

t.test('v1 without a unified hierarchy: the first hierarchy we are in', async (t) => {
  const freezer = procs(path.join(tree, 'freezer/a'));
  const layout: Layout = { root: tree, version: 1, v1: { cpu: path.join(tree, 'cpu'), freezer: path.join(tree, 'freezer') } };
  warmAttachLock(layout, { freezer: '/a' });
  t.equal(fs.readFileSync(freezer, 'utf8'), '0');
});

t.test('nothing to write, or not writable: no error, nothing made', async (t) => {
  const layout: Layout = { root: tree, version: 2, v1: {}, unified: path.join(tree, 'v2') };
  t.doesNotThrow(() => warmAttachLock(layout, {}));
  t.doesNotThrow(() => warmAttachLock(layout, { '': '/missing/cgroup' }));
  t.notOk(fs.existsSync(path.join(tree, 'v2/missing')), 'no directory created');
});
