// containerd (1.6, its runc shim io.containerd.runc.v2) driving tsrun through ctr.
// A containerd of our own is started with its config, root, state and socket under one
// temp dir (CRI plugin off), and stopped (by pid) at the end. `ctr run --runc-binary`
// sets the shim's runtime option BinaryName, the option the CRI config uses too
// (README: containerd); --runc-root keeps tsrun's state in the temp dir.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanEnv, waitFor } from '../helpers/tsrun';
import { repoRoot } from '../helpers/rootfs';
import {
  cleanupTempDir,
  cmd,
  CmdResult,
  Daemon,
  engineTempDir,
  ociArchive,
  processesMentioning,
  removeNewEmptyDirs,
  requireTools,
  rootfsTar,
  show,
  startDaemon,
  timeAlternating,
  timingTable,
  tsrunBin,
} from '../helpers/engines';

t.setTimeout(115_000);

const tools = requireTools(t, { containerd: 'containerd', ctr: 'containerd', 'containerd-shim-runc-v2': 'containerd', runc: 'runc' });
if (tools) main(tools);

function main(tools: Record<string, string>): void {
  const tmp = engineTempDir('containerd');
  const sock = path.join(tmp, 'containerd.sock');
  const image = 'docker.io/library/tsrun-busybox:latest';
  const tsrunState = path.join(tmp, 'tsrun-state');
  const runcState = path.join(tmp, 'runc-state');
  const env = cleanEnv();
  const ctr = (args: string[], timeout = 60_000): CmdResult => cmd(tools.ctr, ['-a', sock, '-n', 'tsrun-test', ...args], { env, timeout });
  // The flags that make the runc shim call tsrun (and keep its state here).
  const viaTsrun = ['--runc-binary', tsrunBin, '--runc-root', tsrunState, '--fifo-dir', path.join(tmp, 'fifo')];
  const viaRunc = ['--runc-binary', tools.runc, '--runc-root', runcState, '--fifo-dir', path.join(tmp, 'fifo')];
  const afterwards = removeNewEmptyDirs(['/run/containerd', '/opt/containerd']);
  let daemon: Daemon | undefined;
  let seq = 0;
  const newId = (p: string): string => `${p}-${process.pid}-${++seq}`;

  fs.writeFileSync(
    path.join(tmp, 'config.toml'),
    `version = 2
root = "${tmp}/root"
state = "${tmp}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${sock}"
[ttrpc]
  address = ""
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${tmp}/opt"
`,
  );

  t.teardown(async () => {
    if (daemon) {
      for (const id of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['task', 'delete', '--force', id]);
      for (const id of ctr(['container', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['container', 'delete', id]);
      await daemon.stop();
    }
    const left = cleanupTempDir(tmp);
    const kept = afterwards();
    if (left.length > 0) console.error(`# containerd test: cleaned up leftovers: ${left.join('; ')}`);
    if (kept.length > 0) console.error(`# containerd test: not empty, left in place: ${kept.join(', ')}`);
  });

  t.test('containerd starts with a private root, state and socket', async (t) => {
    daemon = await startDaemon('containerd', tools.containerd, ['--config', path.join(tmp, 'config.toml')], {
      logFile: path.join(tmp, 'containerd.log'),
      ready: () => cmd(tools.ctr, ['-a', sock, 'version'], { env, timeout: 10_000 }).status === 0,
    });
    t.ok(daemon.pid > 0, `containerd pid ${daemon.pid}`);
  });

  t.test('ctr image import of an OCI archive of the busybox rootfs', async (t) => {
    const r = ctr(['image', 'import', ociArchive(rootfsTar(tmp), image, tmp)]);
    t.equal(r.status, 0, show(r));
    t.match(ctr(['image', 'ls', '-q']).stdout, image);
  });

  t.test('ctr run --rm --runc-binary tsrun: output, exit status, errors', async (t) => {
    const r = ctr(['run', '--rm', ...viaTsrun, image, newId('rm'), 'echo', 'hello from containerd']);
    t.equal(r.status, 0, show(r));
    t.equal(r.stdout, 'hello from containerd\n');
    const e = ctr(['run', '--rm', ...viaTsrun, image, newId('rm'), 'sh', '-c', 'echo out; exit 4']);
    t.equal(e.status, 4, `exit status propagates: ${show(e)}`);
    t.equal(e.stdout, 'out\n');
    const m = ctr(['run', '--rm', ...viaTsrun, image, newId('rm'), '/nonexistent']);
    t.equal(m.status, 1, show(m));
    t.match(m.stderr, /OCI runtime create failed: .*stat \/nonexistent: no such file or directory/, "the runtime's message (last error line of --log)");
    t.equal(ctr(['container', 'ls', '-q']).stdout, '', 'no container left');
    t.same(readdirOr(path.join(tsrunState, 'tsrun-test')), [], 'tsrun state root empty');
  });

  t.test('ctr run -d, task kill -s, task kill, task delete', async (t) => {
    const id = newId('d');
    const log = path.join(tmp, `${id}.log`);
    const script = 'trap "echo got-usr1" USR1; trap "exit 7" TERM; echo started; while :; do sleep 0.1; done';
    const d = ctr(['run', '-d', ...viaTsrun, '--log-uri', `file://${log}`, image, id, 'sh', '-c', script]);
    t.equal(d.status, 0, show(d));
    const status = (): string => (ctr(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(id + ' ')) ?? '').trim().split(/\s+/)[2] ?? '';
    t.ok(waitFor(() => readOr(log).includes('started'), 10_000), `started: ${readOr(log)}`);
    t.equal(status(), 'RUNNING');

    const k = ctr(['task', 'kill', '--signal', 'SIGUSR1', id]);
    t.equal(k.status, 0, show(k));
    t.ok(waitFor(() => readOr(log).includes('got-usr1'), 10_000), `SIGUSR1 delivered: ${readOr(log)}`);

    const term = ctr(['task', 'kill', id]);
    t.equal(term.status, 0, show(term));
    t.ok(waitFor(() => status() === 'STOPPED', 10_000), `STOPPED after SIGTERM (${status()})`);
    const del = ctr(['task', 'delete', id]);
    t.equal(del.status, 0, show(del));
    t.match(del.stderr, /exit code 7/, 'the SIGTERM trap ran: exit 7');
    const cd = ctr(['container', 'delete', id]);
    t.equal(cd.status, 0, show(cd));
    t.same(processesMentioning(id), [], 'no process of the container left (shim, init)');
    t.same(readdirOr(path.join(tsrunState, 'tsrun-test')), [], 'tsrun state root empty');
  });

  t.test('task exec, task ps, task pause/resume', async (t) => {
    const id = newId('x');
    const d = ctr(['run', '-d', ...viaTsrun, '--null-io', image, id, 'sleep', '60']);
    t.equal(d.status, 0, show(d));
    t.teardown(() => {
      ctr(['task', 'delete', '--force', id]);
      ctr(['container', 'delete', id]);
    });

    const e = ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo in-exec; cat /proc/1/cmdline | tr "\\0" " "']);
    t.equal(e.status, 0, show(e));
    t.equal(e.stdout, 'in-exec\nsleep 60 ', "exec sees the container's pid namespace");
    const x = ctr(['task', 'exec', '--exec-id', 'e2', id, 'sh', '-c', 'exit 5']);
    t.equal(x.status, 5, show(x));

    const ps = ctr(['task', 'ps', id]);
    t.equal(ps.status, 0, show(ps));
    t.ok(ps.stdout.trim().split('\n').length >= 2, `task ps lists the init: ${ps.stdout}`);

    const status = (): string => (ctr(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(id + ' ')) ?? '').trim().split(/\s+/)[2] ?? '';
    const p = ctr(['task', 'pause', id]);
    t.equal(p.status, 0, show(p));
    t.equal(status(), 'PAUSED', 'PAUSED');
    const r = ctr(['task', 'resume', id]);
    t.equal(r.status, 0, show(r));
    t.equal(status(), 'RUNNING', 'RUNNING again');
  });

  t.test('examples/engines/containerd/config.toml: containerd reads the CRI runtime handler', async (t) => {
    // Kubernetes (CRI) cannot be driven here (no kubelet/crictl): check that containerd
    // parses the documented config into the runc shim with BinaryName = tsrun, the option
    // --runc-binary sets for the flows above.
    const example = path.join(repoRoot, 'examples', 'engines', 'containerd', 'config.toml');
    const r = cmd(tools.containerd, ['--config', example, 'config', 'dump'], { env });
    t.equal(r.status, 0, show(r));
    const block = r.stdout.split(/\n(?=\s*\[)/).filter((b) => b.includes('containerd.runtimes.tsrun'));
    t.match(block.join('\n'), /runtime_type = "io\.containerd\.runc\.v2"/, 'runtime_type is the runc shim');
    t.match(block.join('\n'), /BinaryName = "\/usr\/local\/bin\/tsrun"/, 'options.BinaryName is tsrun');
  });

  t.test('timing: run --rm IMAGE true, tsrun and runc alternately', async (t) => {
    const n = Number(process.env.ENGINE_BENCH_N ?? 3);
    const { timings, failures } = timeAlternating(['tsrun', 'runc'], n, (rt) =>
      ctr(['run', '--rm', ...(rt === 'tsrun' ? viaTsrun : viaRunc), image, newId('time'), 'true']),
    );
    t.same(failures, [], 'every timed run succeeded');
    t.comment(`${timingTable('containerd (ctr)', timings)}\n(tsrun = ${tsrunBin})`);
  });
}

function readdirOr(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
