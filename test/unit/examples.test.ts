// The hello-world example and the engine snippets are well-formed, and the example
// bundle config is the same as the test helpers' default (except args and root.path).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultConfig } from '../helpers/bundle';
import { repoRoot } from '../helpers/rootfs';

const examples = path.join(repoRoot, 'examples');

t.test('hello-world config.json matches the helpers default config', async (t) => {
  const cfg = JSON.parse(fs.readFileSync(path.join(examples, 'hello-world', 'config.json'), 'utf8'));
  t.same(cfg.process.args, ['/bin/sh', '-c', 'echo Hello from a tsrun container; hostname; id']);
  t.equal(cfg.process.terminal, false);
  t.same(cfg.root, { path: 'rootfs', readonly: false });
  t.equal(cfg.hostname, 'tsrun');
  t.same(cfg, defaultConfig(cfg.process.args, 'rootfs'));
});

t.test('docker daemon.json registers /usr/local/bin/tsrun', async (t) => {
  const d = JSON.parse(fs.readFileSync(path.join(examples, 'engines', 'docker', 'daemon.json'), 'utf8'));
  t.same(d, { runtimes: { tsrun: { path: '/usr/local/bin/tsrun' } } });
});

t.test('podman containers.conf lists tsrun as a runtime that supports json', async (t) => {
  const c = fs.readFileSync(path.join(examples, 'engines', 'podman', 'containers.conf'), 'utf8');
  t.match(c, /^\[engine\.runtimes\]\ntsrun = \[\n  "\/usr\/local\/bin\/tsrun",\n\]/m);
  const line = c.split('\n').find((l) => l.startsWith('runtime_supports_json'));
  t.ok(line, 'runtime_supports_json is set');
  const list = JSON.parse(line!.replace(/^runtime_supports_json\s*=\s*/, '')) as string[];
  for (const name of ['crun', 'runc', 'tsrun']) t.ok(list.includes(name), `${name} in runtime_supports_json`);
});

t.test('containerd config uses the runc shim with BinaryName', async (t) => {
  const c = fs.readFileSync(path.join(examples, 'engines', 'containerd', 'config.toml'), 'utf8');
  t.match(c, /runtimes\.tsrun\]\n\s*runtime_type = "io\.containerd\.runc\.v2"/);
  t.match(c, /BinaryName = "\/usr\/local\/bin\/tsrun"/);
});

t.test('RuntimeClass handler is tsrun', async (t) => {
  const y = fs.readFileSync(path.join(examples, 'engines', 'kubernetes', 'runtimeclass.yaml'), 'utf8');
  t.match(y, /kind: RuntimeClass\nmetadata:\n  name: tsrun\nhandler: tsrun\n/);
});
