// The configuration pipeline runs before anything is made: a config refused by the schema,
// the semantic checks, the "not supported" checks or the host checks leaves no trace at any
// moment, not just after the clean-up. `create` runs under strace -f, which records every
// process started (execve in any child: the init) and every directory made (the state root
// and the container's state dir). A config that fails only in the init is the control: there
// the same recording must show the init and the state dir, so the checks cannot pass vacuously.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BundleConfig, makeBundle } from '../helpers/bundle';
import { cleanEnv, forceDelete, tsrunJs, uniqueId } from '../helpers/tsrun';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-pipeline-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const hasStrace = spawnSync('strace', ['-V']).status === 0;

interface Traced {
  status: number | null;
  stderr: string;
  /** execve calls that succeeded in processes other than tsrun itself. */
  spawned: string[];
  /** Directories made under the state root (the root itself included). */
  made: string[];
}

function tracedCreate(mutate: (c: BundleConfig) => void): Traced & { root: string; id: string } {
  const bundle = makeBundle({ mutate });
  t.teardown(() => bundle.cleanup());
  // A root that does not exist yet: making it is something too.
  const root = path.join(fs.mkdtempSync(path.join(work, 'r-')), 'root');
  const id = uniqueId('pipe');
  t.teardown(() => forceDelete(id, root));
  const log = path.join(work, `${id}.strace`);
  const r = spawnSync('strace', ['-f', '-qq', '-s', '4096', '-e', 'trace=execve,mkdir,mkdirat', '-o', log,
    process.execPath, tsrunJs, '--root', root, 'create', '--bundle', bundle.dir, id], { env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
  const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const first = lines[0]?.split(/\s+/)[0];
  const ok = (l: string) => / = 0$/.test(l);
  return {
    root, id, status: r.status, stderr: r.stderr,
    spawned: lines.filter((l) => l.includes('execve(') && ok(l) && l.split(/\s+/)[0] !== first),
    made: lines.filter((l) => /mkdir(at)?\(/.test(l) && l.includes(JSON.stringify(root).slice(0, -1))),
  };
}

const refused: { name: string; mutate: (c: BundleConfig) => void; expect: RegExp }[] = [
  { name: 'schema: process.args is a string', mutate: (c) => ((c.process as unknown as Record<string, unknown>).args = 'sh'), expect: /config\.json: \/process\/args: found "sh", expected an array/ },
  { name: 'semantic: process.cwd is relative', mutate: (c) => (c.process.cwd = 'tmp'), expect: /config\.json: \/process\/cwd: found "tmp", expected an absolute path/ },
  { name: 'not supported: a terminal without --console-socket', mutate: (c) => (c.process.terminal = true), expect: /cannot allocate tty if tsrun will detach without setting console socket/ },
  { name: 'not supported: linux.intelRdt', mutate: (c) => (c.linux.intelRdt = { closID: 'tsrun' }), expect: /linux\.intelRdt: / },
  { name: 'host: the rootfs does not exist', mutate: (c) => (c.root.path = '/nonexistent-tsrun-rootfs'), expect: /config\.json: \/root\/path: rootfs \/nonexistent-tsrun-rootfs: no such file or directory/ },
  { name: 'host: a tmpfs over /proc', mutate: (c) => c.mounts.push({ destination: '/proc', type: 'tmpfs', source: 'tmpfs' }), expect: /\/proc cannot be mounted because it is not of type proc/ },
];

t.test('a refused config makes nothing and starts no process, at any moment', { skip: !hasStrace && 'strace is not installed' }, async (t) => {
  for (const c of refused) {
    const r = tracedCreate(c.mutate);
    t.equal(r.status, 1, `${c.name}: exit status 1`);
    t.match(r.stderr, c.expect, `${c.name}: the error`);
    t.same(r.spawned, [], `${c.name}: no init (nor any other process) was started`);
    t.same(r.made, [], `${c.name}: neither the state root nor the state dir was made`);
    t.notOk(fs.existsSync(path.join(r.root, r.id)), `${c.name}: no state dir`);
  }
});

t.test('control: a config that fails in the init shows the init and the state dir in the trace', { skip: !hasStrace && 'strace is not installed' }, async (t) => {
  const r = tracedCreate((c) => c.mounts.push({ destination: '/mnt', type: 'bind', source: '/nonexistent-tsrun-source', options: ['bind'] }));
  t.equal(r.status, 1, 'exit status 1');
  t.match(r.stderr, /nonexistent-tsrun-source/, 'the mount source is named');
  t.ok(r.spawned.length > 0, 'the init was started (the trace sees it)');
  t.ok(r.made.some((l) => l.includes(path.join(r.root, r.id))), 'the state dir was made (the trace sees it)');
  t.notOk(fs.existsSync(path.join(r.root, r.id)), 'and removed again');
});
