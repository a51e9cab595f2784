// podman (4.3, with conmon) driving tsrun. Everything private under one temp dir:
// containers.conf / storage.conf through CONTAINERS_CONF / CONTAINERS_STORAGE_CONF,
// --root/--runroot/--tmpdir, cgroupfs manager, file events, network none, and tsrun
// called through a wrapper that fixes its --root (podman passes none, and the cleanup
// process conmon starts drops --runtime-flag). No daemon: podman runs conmon per container.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanEnv, waitFor } from '../helpers/tsrun';
import {
  cgroupFileOf,
  cleanupTempDir,
  cmd,
  CmdResult,
  engineTempDir,
  processesMentioning,
  requireTools,
  rootfsTar,
  show,
  timeAlternating,
  timingTable,
  tsrunBin,
  tsrunWrapper,
} from '../helpers/engines';

t.setTimeout(115_000);

const tools = requireTools(t, { podman: 'podman', conmon: 'conmon', runc: 'runc' });
if (tools) main(tools);

function main(tools: Record<string, string>): void {
  const tmp = engineTempDir('podman');
  const tsrunState = path.join(tmp, 'tsrun-state');
  const runcState = path.join(tmp, 'runc-state');
  const wrapper = tsrunWrapper(path.join(tmp, 'bin'), tsrunState);
  const runcWrapper = tsrunWrapper(path.join(tmp, 'bin-runc'), runcState, 'runc', tools.runc);
  const image = 'localhost/tsrun-busybox:latest';

  // The configuration README.md documents, plus private paths.
  fs.writeFileSync(
    path.join(tmp, 'containers.conf'),
    `[containers]
netns = "none"
# podman's defaults (nofile/nproc 1048576) exceed this host's hard limits: runc fails too.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${tmp}/events.log"
runtime = "tsrun"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "tsrun"]

[engine.runtimes]
tsrun = ["${wrapper}"]
runc = ["${runcWrapper}"]

[network]
network_config_dir = "${tmp}/cni"
`,
  );
  fs.writeFileSync(
    path.join(tmp, 'storage.conf'),
    `[storage]\ndriver = "overlay"\ngraphroot = "${tmp}/storage"\nrunroot = "${tmp}/runroot"\n`,
  );
  const env = cleanEnv({
    CONTAINERS_CONF: path.join(tmp, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: path.join(tmp, 'storage.conf'),
  });
  const global = [
    '--root', `${tmp}/storage`,
    '--runroot', `${tmp}/runroot`,
    '--tmpdir', `${tmp}/tmp`,
    '--cgroup-manager', 'cgroupfs',
    '--events-backend', 'file',
  ];
  const podman = (args: string[], timeout = 60_000): CmdResult => cmd(tools.podman, [...global, ...args], { env, timeout });
  const run = (args: string[], runtime = 'tsrun'): CmdResult => podman(['run', '--runtime', runtime, '--network', 'none', ...args]);

  t.teardown(() => {
    podman(['rm', '--all', '--force', '--time', '0']);
    const left = cleanupTempDir(tmp);
    if (left.length > 0) console.error(`# podman test: cleaned up leftovers: ${left.join('; ')}`);
  });

  t.test('podman import of the busybox rootfs', async (t) => {
    const r = podman(['import', rootfsTar(tmp), image]);
    t.equal(r.status, 0, show(r));
    t.equal(podman(['image', 'exists', image]).status, 0, 'image exists');
  });

  t.test('run --rm: output and exit status', async (t) => {
    const r = run(['--rm', image, 'echo', 'hello from podman']);
    t.equal(r.status, 0, show(r));
    t.equal(r.stdout, 'hello from podman\n');
    const e = run(['--rm', image, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    t.equal(e.status, 3, `exit status propagates: ${show(e)}`);
    t.equal(e.stdout, 'out\n');
    t.match(e.stderr, /err/);
    t.equal(podman(['ps', '-aq']).stdout, '', 'no container left');
    t.ok(waitFor(() => readdirOr(tsrunState).length === 0, 5_000), `tsrun state root empty: ${readdirOr(tsrunState)}`);
  });

  t.test('the container gets the configured rlimits and no network', async (t) => {
    const r = run(['--rm', image, 'sh', '-c', 'ulimit -n; ulimit -u; ls /sys/class/net']);
    t.equal(r.status, 0, show(r));
    t.equal(r.stdout, '1024\n4096\nlo\n');
  });

  t.test('a missing executable: exit 127 and tsrun\'s message (JSON log)', async (t) => {
    const r = run(['--rm', image, '/nonexistent']);
    t.equal(r.status, 127, show(r));
    t.match(r.stderr, /no such file or directory/);
    t.match(r.stderr, /tsrun: .*\/nonexistent/, 'podman shows the runtime\'s own error (runtime_supports_json)');
    const n = run(['--rm', image, 'no-such-command']);
    t.equal(n.status, 127, show(n));
    t.match(n.stderr, /executable file not found in \$PATH/);
  });

  t.test('an rlimit above the hard limit: the error says which and why', async (t) => {
    const r = run(['--rm', '--ulimit', 'nofile=1048576:1048576', image, 'true']);
    t.equal(r.status, 126, show(r));
    t.match(r.stderr, /RLIMIT_NOFILE/);
    t.match(r.stderr, /CAP_SYS_RESOURCE/);
  });

  t.test('run -d, kill -s, stop, start, top, rm -f', async (t) => {
    const script = 'trap "echo got-usr1" USR1; trap "exit 7" TERM; echo started; while :; do sleep 0.1; done';
    const d = run(['-d', image, 'sh', '-c', script]);
    t.equal(d.status, 0, show(d));
    const id = d.stdout.trim();
    t.match(id, /^[0-9a-f]{64}$/, 'container id');
    const status = (): string => podman(['inspect', '--format', '{{.State.Status}}', id]).stdout.trim();
    const logs = (): string => podman(['logs', id]).stdout;
    t.ok(waitFor(() => logs().includes('started'), 10_000), `started: ${logs()}`);
    t.equal(status(), 'running');

    const k = podman(['kill', '--signal', 'USR1', id]);
    t.equal(k.status, 0, show(k));
    t.ok(waitFor(() => logs().includes('got-usr1'), 10_000), `SIGUSR1 delivered: ${logs()}`);

    const top = podman(['top', id]);
    t.equal(top.status, 0, show(top));
    t.match(top.stdout, /sh -c trap/);

    const s = podman(['stop', '--time', '10', id]);
    t.equal(s.status, 0, show(s));
    t.equal(status(), 'exited');
    t.equal(podman(['inspect', '--format', '{{.State.ExitCode}}', id]).stdout.trim(), '7', 'SIGTERM trap ran: exit 7');

    const st = podman(['start', id]);
    t.equal(st.status, 0, show(st));
    t.ok(waitFor(() => status() === 'running', 10_000), 'running again after start');

    const rm = podman(['rm', '--force', '--time', '0', id]);
    t.equal(rm.status, 0, show(rm));
    t.equal(podman(['ps', '-aq']).stdout, '', 'no container left');
    t.ok(waitFor(() => readdirOr(tsrunState).length === 0, 5_000), `tsrun state root empty: ${readdirOr(tsrunState)}`);
    t.same(processesMentioning(id), [], 'no process of the container left');
  });

  t.test('--memory 6m', async (t) => {
    const r = run(['--rm', '--memory', '6m', image, 'true']);
    t.equal(r.status, 0, `runs with a memory limit: ${show(r)}`);
    const d = run(['-d', '--memory', '6m', image, 'sleep', '60']);
    t.equal(d.status, 0, show(d));
    const id = d.stdout.trim();
    const pid = Number(podman(['inspect', '--format', '{{.State.Pid}}', id]).stdout.trim());
    t.equal(cgroupFileOf(pid, 'memory', 'memory.limit_in_bytes', 'memory.max'), '6291456', `the container's memory cgroup is limited to 6 MiB (pid ${pid})`);
    podman(['rm', '--force', '--time', '0', id]);
  });

  t.test('run -d + exec, exec exit status', async (t) => {
    const d = run(['-d', image, 'sleep', '60']);
    t.equal(d.status, 0, show(d));
    const id = d.stdout.trim();
    const e = podman(['exec', id, 'sh', '-c', 'echo in-exec; cat /proc/1/cmdline | tr "\\0" " "']);
    t.equal(e.status, 0, show(e));
    t.equal(e.stdout, 'in-exec\nsleep 60 ', 'exec sees the container\'s pid namespace');
    const x = podman(['exec', id, 'sh', '-c', 'exit 5']);
    t.equal(x.status, 5, show(x));
    const m = podman(['exec', id, '/nonexistent']);
    t.equal(m.status, 127, show(m));
    podman(['rm', '--force', '--time', '0', id]);
  });

  t.test('run -t and exec -t (terminal through --console-socket)', async (t) => {
    const r = run(['--rm', '-t', image, 'sh', '-c', 'tty; echo ok']);
    t.equal(r.status, 0, show(r));
    t.match(r.stdout, /^\/dev\/pts\/\d+\r\nok\r\n$/, 'a pty inside the container');
    const d = run(['-d', image, 'sleep', '60']);
    const id = d.stdout.trim();
    const e = podman(['exec', '-t', id, 'tty']);
    t.equal(e.status, 0, show(e));
    t.match(e.stdout, /^\/dev\/pts\/\d+\r\n$/, 'exec -t gets a pty');
    podman(['rm', '--force', '--time', '0', id]);
  });

  t.test('pause and unpause', async (t) => {
    const d = run(['-d', image, 'sleep', '60']);
    t.equal(d.status, 0, show(d));
    const id = d.stdout.trim();
    const p = podman(['pause', id]);
    t.equal(p.status, 0, show(p));
    t.equal(podman(['inspect', '--format', '{{.State.Status}}', id]).stdout.trim(), 'paused', 'paused');
    const u = podman(['unpause', id]);
    t.equal(u.status, 0, show(u));
    t.equal(podman(['inspect', '--format', '{{.State.Status}}', id]).stdout.trim(), 'running', 'running again');
    podman(['rm', '--force', '--time', '0', id]);
  });

  t.test('timing: run --rm IMAGE true, tsrun and runc alternately', async (t) => {
    const n = Number(process.env.ENGINE_BENCH_N ?? 3);
    const { timings, failures } = timeAlternating(['tsrun', 'runc'], n, (rt) => run(['--rm', image, 'true'], rt));
    t.same(failures, [], 'every timed run succeeded');
    t.comment(`${timingTable('podman', timings)}\n(tsrun = ${tsrunBin})`);
  });
}

function readdirOr(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
