// The direct init (src/init/direct.ts): create builds the container on its own main thread
// and spawns tsrun-stage as the container's pid 1, with no Node process. What the container
// sees must not depend on which init built it, the waiting container is small, our main
// thread is back on the host afterwards (hooks run by the same process see the host), and
// nothing is written by path while we are inside the container's root.
// Build first (`npm run build`).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O } from '../../bindings/constants';
import { BundleConfig, makeBundle } from '../helpers/bundle';
import { rootSuite, runIn, tempDir, tsrunAsync } from '../helpers/container';
import { cleanEnv, forceDelete, residue, state, tsrun, uniqueId, waitFor } from '../helpers/tsrun';

const root = rootSuite();
const work = tempDir('tsrun-direct-');
t.teardown(() => work.remove());

const NODE_INIT = cleanEnv({ TSRUN_INIT: 'node' });

/** What a container shows of itself: mounts, namespaces' view, ids, capabilities, limits, cgroup. */
const VIEW = [
  "sed -E 's/^[0-9]+ [0-9]+ [0-9]+:[0-9]+ //' /proc/self/mountinfo | sed -E 's/ - / % /' | sort",
  'hostname',
  'id',
  'grep -E "^(Cap|NoNewPrivs|Seccomp:|Groups)" /proc/self/status',
  'cat /proc/self/cgroup | sed -E "s/[0-9a-f-]{8,}//g"',
  'ls /dev | sort | tr "\\n" " "',
  'echo pid $$ ppid $PPID; cat /proc/1/comm 2>/dev/null',
  'pwd; umask; ulimit -n',
  'cat /proc/sys/net/ipv4/ip_forward 2>&1',
].join('; echo ==; ');

t.test('the container sees the same with either init', async (t) => {
  const mutate = (c: BundleConfig) => {
    c.hostname = 'direct-view';
    c.process.cwd = '/tmp';
    c.process.user = { uid: 1000, gid: 1000, additionalGids: [100], umask: 0o027 };
    c.process.oomScoreAdj = 100;
    c.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  };
  const direct = runIn({ root, args: ['sh', '-c', VIEW], mutate });
  const node = runIn({ root, args: ['sh', '-c', VIEW], mutate, tsrunOptions: { env: NODE_INIT } });
  t.equal(direct.status, 0, `direct: ${direct.stderr}`);
  t.equal(node.status, 0, `node: ${node.stderr}`);
  t.equal(direct.stdout, node.stdout, 'mounts, hostname, ids, capabilities, cgroup, /dev, pid 1, cwd, umask, sysctl');
  t.match(direct.stdout, /direct-view/);
  t.match(direct.stdout, /uid=1000/);
  t.same(direct.residue, []);
  t.same(node.residue, []);
});

t.test('a created container waits in tsrun-stage, not in Node', async (t) => {
  const id = uniqueId('dwait');
  const bundle = makeBundle({ args: ['/bin/true'] });
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  const r = tsrun(['create', '--bundle', bundle.dir, id], { root });
  t.equal(r.status, 0, r.stderr);
  const pid = state(id, root).pid;
  t.equal(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'tsrun-stage');
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  t.ok(rss < 10 * 1024, `the waiting init holds ${rss} kB (issue 13: at most 10 MB)`);
  t.not(fs.readlinkSync(`/proc/${pid}/ns/pid`), fs.readlinkSync('/proc/self/ns/pid'), 'pid 1 of a pid namespace of its own');
  t.equal(fs.readlinkSync(`/proc/${pid}/root`), '/', 'its root is the container\'s');
  t.equal(tsrun(['start', id], { root }).status, 0);
  t.equal(tsrun(['delete', '--force', id], { root }).status, 0);
  t.same(residue(id, root, { bundle: bundle.dir }), []);
});

t.test('after create, tsrun\'s main thread is back in the host\'s namespaces (poststart runs from the same process)', async (t) => {
  const out = path.join(work.dir, 'poststart');
  const hook = path.join(work.dir, 'hook.sh');
  fs.writeFileSync(hook, `#!/bin/sh\ncat > /dev/null\nfor n in mnt net uts ipc pid cgroup; do readlink /proc/self/ns/$n; done > ${out}\nhostname >> ${out}\npwd >> ${out}\n`, { mode: 0o755 });
  const cwd = fs.mkdtempSync(path.join(work.dir, 'cwd-'));
  // A relative --pid-file is written after the container is built: in our own cwd.
  const r = runIn({ root, args: ['/bin/true'], runArgs: ['--pid-file', 'init.pid'], mutate: (c) => {
    c.hostname = 'not-the-host';
    c.process.cwd = '/tmp';
    c.hooks = { poststart: [{ path: hook }] };
  }, tsrunOptions: { cwd } });
  t.equal(r.status, 0, r.stderr);
  const host = ['mnt', 'net', 'uts', 'ipc', 'pid', 'cgroup'].map((n) => fs.readlinkSync(`/proc/self/ns/${n}`));
  const [hookHostname, hookCwd] = fs.readFileSync(out, 'utf8').trim().split('\n').slice(6);
  t.same(fs.readFileSync(out, 'utf8').trim().split('\n').slice(0, 6), host, 'the hook ran in the host\'s namespaces');
  t.equal(hookHostname, fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
  t.equal(hookCwd, r.bundle.dir, 'in the bundle directory, as runc');
  t.match(fs.readFileSync(path.join(cwd, 'init.pid'), 'utf8'), /^\d+$/, 'the pid file is in our working directory');
});

t.test('--log and --debug lines written while the rootfs is built land on the host, not in the container', async (t) => {
  // The same absolute path exists in the container's rootfs.
  const logDir = fs.mkdtempSync(path.join(work.dir, 'log-'));
  const log = path.join(logDir, 'tsrun.log');
  const r = runIn({
    root, args: ['/bin/true'], copyRootfs: true, runArgs: [],
    prepare: (b) => fs.mkdirSync(path.join(b.rootfs, logDir), { recursive: true }),
    after: (b) => t.notOk(fs.existsSync(path.join(b.rootfs, log)), 'nothing written in the container\'s copy of the path'),
    tsrunOptions: { globalArgs: ['--debug', '--log', log] },
  });
  t.equal(r.status, 0, r.stderr);
  const text = fs.readFileSync(log, 'utf8');
  t.match(text, /pivoted/, 'the set-up lines are in the host\'s log');
  t.match(text, /tsrun-stage is pid/);
});

t.test('a failing step inside the container is reported as the Node init reported it, and leaves nothing', async (t) => {
  for (const env of [undefined, NODE_INIT]) {
    const r = runIn({ root, args: ['/no/such/program'], tsrunOptions: { env } });
    t.equal(r.status, 1);
    t.match(r.stderr, /unable to start container process: exec: "\/no\/such\/program": stat \/no\/such\/program: no such file or directory/);
    t.same(r.residue, []);
  }
});

t.test('a failed create or exec reaps the tsrun-stage it spawned (no zombie left to the host\'s init)', async (t) => {
  const stagePid = (stderr: string) => Number(/tsrun-stage is pid (\d+)/.exec(stderr)?.[1]);
  const create = runIn({ root, args: ['/no/such/program'], runArgs: [], tsrunOptions: { globalArgs: ['--debug'] } });
  t.equal(create.status, 1);
  const created = stagePid(create.stderr);
  t.ok(created > 0, 'the direct init spawned a stage');
  t.notOk(fs.existsSync(`/proc/${created}`), `create's stage ${created} is gone, reaped`);

  const id = uniqueId('dreap');
  const bundle = makeBundle({ args: ['sleep', '1000'] });
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  t.equal(tsrun(['run', '-d', '--bundle', bundle.dir, id], { root }).status, 0);
  for (const args of [['--cwd', '/etc/passwd', id, 'true'], [id, '/no/such/program']]) {
    const r = tsrun(['--debug', 'exec', ...args], { root });
    t.equal(r.status, 1, r.stderr);
    const pid = stagePid(r.stderr);
    t.ok(pid > 0, 'the direct exec spawned a stage');
    t.notOk(fs.existsSync(`/proc/${pid}`), `exec's stage ${pid} is gone, reaped`);
  }
});

// CAP_SYS_RESOURCE (bit 24) would let the stage raise the hard limit: nothing would fail.
const capEff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`);
const canRaise = ((capEff >> 24n) & 1n) === 1n && 'we hold CAP_SYS_RESOURCE: raising a hard rlimit succeeds here';

t.test('an error of tsrun-stage after the plan (a hard rlimit above ours) is reported, not just its exit', { skip: canRaise }, async (t) => {
  const hard = Number(/Max open files\s+\d+\s+(\d+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'))![1]);
  for (let i = 0; i < 5; i++) {
    const r = runIn({ root, args: ['/bin/true'], mutate: (c) => {
      c.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: hard * 2, soft: hard * 2 }];
    } });
    t.equal(r.status, 1);
    t.match(r.stderr, /process\.rlimits RLIMIT_NOFILE .*: operation not permitted/, `run ${i}: the stage's own words`);
    t.same(r.residue, []);
  }
});

t.test('direct exec: tsrun-stage runs from the read-only view of tsrun\'s files, and the process is in the container', async (t) => {
  const id = uniqueId('dexec');
  const bundle = makeBundle({ args: ['sleep', '1000'] });
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  t.equal(tsrun(['run', '-d', '--bundle', bundle.dir, id], { root }).status, 0);
  const initPid = state(id, root).pid;
  const exec = tsrunAsync(['exec', id, 'sleep', '3'], { root });
  t.teardown(() => exec.child.kill('SIGKILL'));
  t.ok(waitFor(() => /sleep 3/.test(tsrun(['ps', id], { root }).stdout)), 'the process runs');
  // The stage waiting for it: our pid namespace, the container's mount namespace.
  const stage = stageOf(exec.child.pid!);
  t.ok(stage, 'tsrun-stage waits for the process');
  t.equal(fs.readlinkSync(`/proc/${stage}/ns/mnt`), fs.readlinkSync(`/proc/${initPid}/ns/mnt`), 'in the container\'s mount namespace');
  t.equal(fs.readlinkSync(`/proc/${stage}/ns/pid`), fs.readlinkSync('/proc/self/ns/pid'), 'but not in its pid namespace');
  const ps = tsrun(['ps', id], { root }).stdout;
  t.match(ps, /sleep 3/, 'the process is in the container\'s cgroup');
  t.notMatch(ps, /tsrun-stage/, 'the stage is not');
  // CVE-2019-5736's way: a handle on its exe, reopened for writing once nothing runs it.
  const handle = fs.openSync(`/proc/${stage}/exe`, O.PATH);
  t.teardown(() => fs.closeSync(handle));
  exec.child.kill('SIGKILL');
  process.kill(stage!, 'SIGKILL');
  t.ok(waitFor(() => !fs.existsSync(`/proc/${stage}`) || /^Z/.test(fs.readFileSync(`/proc/${stage}/stat`, 'utf8').split(') ')[1] ?? '')), 'the stage is gone');
  let code: string | undefined;
  try {
    fs.closeSync(fs.openSync(`/proc/self/fd/${handle}`, fs.constants.O_WRONLY));
  } catch (err) {
    code = (err as NodeJS.ErrnoException).code;
  }
  t.equal(code, 'EROFS', 'its exe is on a read-only mount');
});

/** The tsrun-stage child of a tsrun process, if any. */
function stageOf(parent: number): number | undefined {
  for (const task of fs.readdirSync(`/proc/${parent}/task`)) {
    let children = '';
    try {
      children = fs.readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const c of children.trim().split(' ').filter(Boolean)) {
      if (fs.readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'tsrun-stage') return Number(c);
    }
  }
  return undefined;
}
