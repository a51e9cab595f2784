// linux.intelRdt on a host without a mounted resctrl: refused with one clear line and nothing
// left (runtime-spec: "the runtime MUST generate an error"). The resctrl writes themselves are
// tested against a stand-in directory in test/unit/intel-rdt.test.ts.
import t from 'tap';
import * as fs from 'node:fs';
import { makeBundle } from '../helpers/bundle';
import { rootSuite } from '../helpers/container';
import { residue, tsrun, uniqueId } from '../helpers/tsrun';

const root = rootSuite();
const mounted = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' - ')[1]?.startsWith('resctrl '));
const kernelHas = /\tresctrl$/m.test(fs.readFileSync('/proc/filesystems', 'utf8'));

t.test('refused where no resctrl is mounted', { skip: mounted ? 'this host has resctrl mounted' : false }, async (t) => {
  for (const rdt of [{ closID: 'tsrun-test', l3CacheSchema: 'L3:0=f' }, { enableMonitoring: true }, {}]) {
    const id = uniqueId('rdt');
    const bundle = makeBundle({ args: ['sh', '-c', 'echo the-process-ran'], mutate: (c) => (c.linux.intelRdt = rdt) });
    t.teardown(() => bundle.cleanup());
    const r = tsrun(['run', '--bundle', bundle.dir, id], { root });
    t.equal(r.status, 1, r.stderr);
    t.notMatch(r.stdout, /the-process-ran/);
    t.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    t.match(r.stderr.trim(), kernelHas
      ? /^tsrun: linux\.intelRdt: no resctrl file system is mounted on this host \(mount -t resctrl/
      : /^tsrun: linux\.intelRdt: this host has no resctrl file system/);
    t.same(residue(id, root), [], 'nothing left');
  }
});
