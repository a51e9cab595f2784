// The configs podman, Docker and ctr really hand to a runtime (test/fixtures/engine-configs)
// run `echo hi` with tsrun, once root.path points at a busybox rootfs: their seccomp
// profiles, masked paths, cgroup mounts, devices, sysctls, rlimits and cgroupsPath included.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Mount, Spec } from '../../src/spec/types';
import { ensureRootfs, repoRoot } from '../helpers/rootfs';
import { freshRoot, residue, tsrun, tsrunBuilt, uniqueId } from '../helpers/tsrun';
import { stopTapSpawnHooks } from '../helpers/container';

stopTapSpawnHooks();
if (process.getuid?.() !== 0 || !tsrunBuilt()) {
  t.plan(0, 'needs root and a built dist/tsrun.js');
  process.exit(0);
}
const root = freshRoot();
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));

for (const engine of ['podman', 'docker', 'ctr']) {
  t.test(`${engine}-config.json runs echo hi`, async (t) => {
    const fixture = path.join(repoRoot, 'test', 'fixtures', 'engine-configs', `${engine}-config.json`);
    const config = JSON.parse(fs.readFileSync(fixture, 'utf8')) as Spec;
    const bundle = fs.mkdtempSync(path.join(os.tmpdir(), `tsrun-${engine}-`));
    t.teardown(() => fs.rmSync(bundle, { recursive: true, force: true }));
    config.root = { ...config.root, path: ensureRootfs() };
    config.process = { ...config.process!, args: ['echo', 'hi'], terminal: false };
    // The engine's files behind its bind mounts (resolv.conf, hosts, ...) do not exist here.
    for (const m of config.mounts ?? []) {
      if (m.type === 'bind' && m.source && !fs.existsSync(m.source)) bindSource(bundle, m);
    }
    // Docker's prestart hook re-executes the dockerd that wrote the config: a stand-in that
    // reads the state from stdin as dockerd does.
    if (config.hooks?.prestart) config.hooks.prestart = [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /dev/null'] }];
    const id = uniqueId(engine);
    // The fixtures' cgroupsPath names the engine's parent cgroups: keep them apart per test.
    if (config.linux?.cgroupsPath) config.linux.cgroupsPath = `/tsrun-fixture-${id}`;
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
    const out = path.join(bundle, 'out');
    const r = tsrun(['run', '--bundle', bundle, id], { root, stdoutFile: out });
    t.equal(r.status, 0, `run: ${r.stderr}`);
    t.equal(fs.readFileSync(out, 'utf8'), 'hi\n');
    t.same(residue(id, root, { bundle }), [], 'nothing left behind');
  });
}

function bindSource(bundle: string, m: Mount): void {
  const src = path.join(bundle, 'sources', m.destination.replace(/\//g, '_'));
  fs.mkdirSync(path.dirname(src), { recursive: true });
  if (m.destination === '/dev/shm') fs.mkdirSync(src, { recursive: true });
  else fs.writeFileSync(src, '');
  m.source = src;
}
