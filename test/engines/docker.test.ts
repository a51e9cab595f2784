// Docker (docker.io 20.10: dockerd -> its own containerd -> containerd-shim-runc-v2 ->
// tsrun) driving tsrun. dockerd is started by this file with every path under one temp dir
// (--data-root, --exec-root, --pidfile, -H unix://), no iptables and no bridge, tsrun added
// through daemon.json "runtimes", and stopped (by pid) at the end; it starts and stops its
// own containerd.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { probeSections, sameSections } from '../helpers/probe';
import { cleanEnv, waitFor } from '../helpers/tsrun';
import {
  cgroupFileOf,
  cleanupTempDir,
  cmd,
  CmdResult,
  Daemon,
  engineTempDir,
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

const tools = requireTools(t, {
  dockerd: 'docker.io',
  docker: 'docker.io',
  containerd: 'containerd',
  'containerd-shim-runc-v2': 'containerd',
  runc: 'runc',
});
if (tools) main(tools);

function main(tools: Record<string, string>): void {
  const tmp = engineTempDir('docker');
  const sock = path.join(tmp, 'docker.sock');
  const image = 'tsrun-busybox:latest';
  const env = cleanEnv({ DOCKER_CONFIG: path.join(tmp, 'client') });
  const docker = (args: string[], timeout = 60_000): CmdResult => cmd(tools.docker, ['-H', `unix://${sock}`, ...args], { env, timeout });
  const run = (args: string[], runtime = 'tsrun'): CmdResult => docker(['run', '--runtime', runtime, '--network', 'none', ...args]);
  const afterwards = removeNewEmptyDirs(['/run/docker', '/run/containerd', '/opt/containerd']);
  // The daemon.json "runtimes" form README.md documents (same as --add-runtime tsrun=PATH).
  fs.writeFileSync(path.join(tmp, 'daemon.json'), JSON.stringify({ runtimes: { tsrun: { path: tsrunBin } } }, null, 2) + '\n');
  let daemon: Daemon | undefined;

  t.teardown(async () => {
    if (daemon) {
      const ids = docker(['ps', '-aq']).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) docker(['rm', '--force', ...ids]);
      await daemon.stop();
    }
    const left = cleanupTempDir(tmp);
    const kept = afterwards();
    if (left.length > 0) console.error(`# docker test: cleaned up leftovers: ${left.join('; ')}`);
    if (kept.length > 0) console.error(`# docker test: not empty, left in place: ${kept.join(', ')}`);
  });

  t.test('dockerd starts with tsrun in daemon.json "runtimes"', async (t) => {
    daemon = await startDaemon(
      'dockerd',
      tools.dockerd,
      [
        '--config-file', path.join(tmp, 'daemon.json'),
        '--data-root', path.join(tmp, 'data'),
        '--exec-root', path.join(tmp, 'exec'),
        '--pidfile', path.join(tmp, 'dockerd.pid'),
        '-H', `unix://${sock}`,
        '--iptables=false', '--ip6tables=false', '--ip-masq=false', '--bridge=none', '--userland-proxy=false',
        '--storage-driver', 'overlay2',
      ],
      { logFile: path.join(tmp, 'dockerd.log'), ready: () => docker(['version'], 10_000).status === 0, timeoutMs: 40_000 },
    );
    const info = docker(['info', '--format', '{{json .Runtimes}}']);
    t.equal(info.status, 0, show(info));
    t.match(info.stdout, /"tsrun"/, 'docker info lists the tsrun runtime');
  });

  t.test('docker import of the busybox rootfs', async (t) => {
    const r = docker(['import', rootfsTar(tmp), image]);
    t.equal(r.status, 0, show(r));
  });

  t.test('run --rm: output and exit status', async (t) => {
    const r = run(['--rm', image, 'echo', 'hello from docker']);
    t.equal(r.status, 0, show(r));
    t.equal(r.stdout, 'hello from docker\n');
    const e = run(['--rm', image, 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    t.equal(e.status, 5, `exit status propagates: ${show(e)}`);
    t.equal(e.stdout, 'out\n');
    t.match(e.stderr, /err/);
  });

  t.test("docker's exit codes for runtime errors: 127, 126, 125", async (t) => {
    const missing = run(['--rm', image, '/nonexistent']);
    t.equal(missing.status, 127, show(missing));
    t.match(missing.stderr, /OCI runtime create failed: .*no such file or directory/);
    const notFound = run(['--rm', image, 'no-such-command']);
    t.equal(notFound.status, 127, show(notFound));
    t.match(notFound.stderr, /executable file not found in \$PATH/);
    const noExec = run(['--rm', image, '/etc/passwd']);
    t.equal(noExec.status, 126, show(noExec));
    t.match(noExec.stderr, /permission denied/);
    const rlimit = run(['--rm', '--ulimit', 'nofile=1048576:1048576', image, 'true']);
    t.equal(rlimit.status, 125, `any other runtime error is 125: ${show(rlimit)}`);
    t.match(rlimit.stderr, /RLIMIT_NOFILE.*CAP_SYS_RESOURCE/, 'the runtime\'s message reaches the user');
  });

  t.test('run -d, kill -s, stop, restart, rm -f', async (t) => {
    const script = 'trap "echo got-usr1" USR1; trap "exit 7" TERM; echo started; while :; do sleep 0.1; done';
    const d = run(['-d', image, 'sh', '-c', script]);
    t.equal(d.status, 0, show(d));
    const id = d.stdout.trim();
    const inspect = (f: string): string => docker(['inspect', '--format', f, id]).stdout.trim();
    const logs = (): string => docker(['logs', id]).stdout;
    t.ok(waitFor(() => logs().includes('started'), 10_000), `started: ${logs()}`);
    t.equal(inspect('{{.State.Status}}'), 'running');

    const k = docker(['kill', '--signal', 'USR1', id]);
    t.equal(k.status, 0, show(k));
    t.ok(waitFor(() => logs().includes('got-usr1'), 10_000), `SIGUSR1 delivered: ${logs()}`);

    const s = docker(['stop', '--time', '10', id]);
    t.equal(s.status, 0, show(s));
    t.equal(inspect('{{.State.Status}} {{.State.ExitCode}}'), 'exited 7', 'SIGTERM trap ran: exit 7');

    const rs = docker(['restart', '--time', '10', id]);
    t.equal(rs.status, 0, show(rs));
    t.ok(waitFor(() => inspect('{{.State.Status}}') === 'running', 10_000), 'running after restart');
    t.ok(waitFor(() => logs().split('started').length === 3, 10_000), `the process ran twice: ${JSON.stringify(logs())}`);

    const rm = docker(['rm', '--force', id]);
    t.equal(rm.status, 0, show(rm));
    t.equal(docker(['ps', '-aq']).stdout, '', 'no container left');
    t.same(processesMentioning(id), [], 'no process of the container left (shim, init)');
    const state = path.join(tmp, 'exec', 'runtime-tsrun');
    t.ok(waitFor(() => !fs.existsSync(path.join(state, 'moby', id)), 5_000), 'tsrun state dir removed');
  });

  t.test('--memory 6m', async (t) => {
    const r = run(['--rm', '--memory', '6m', image, 'true']);
    t.equal(r.status, 0, `runs with a memory limit: ${show(r)}`);
    const d = run(['-d', '--memory', '6m', image, 'sleep', '60']);
    t.equal(d.status, 0, show(d));
    const id = d.stdout.trim();
    const lim = run(['--rm', '--memory', '6m', image, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
    t.equal(lim.stdout.trim(), '6291456', `the container sees its 6 MiB limit: ${show(lim)}`);
    const st = docker(['stats', '--no-stream', '--format', '{{.MemUsage}}', id]);
    t.match(st.stdout, /\/ 6MiB/, `docker stats reads the limit through the runtime: ${show(st)}`);
    docker(['rm', '--force', id]);
  });

  t.test('exec, exec exit status, exec -t, run -t', async (t) => {
    const d = run(['-d', image, 'sleep', '60']);
    t.equal(d.status, 0, show(d));
    const id = d.stdout.trim();
    const e = docker(['exec', id, 'sh', '-c', 'echo in-exec; cat /proc/1/cmdline | tr "\\0" " "']);
    t.equal(e.status, 0, show(e));
    t.equal(e.stdout, 'in-exec\nsleep 60 ', "exec sees the container's pid namespace");
    const x = docker(['exec', id, 'sh', '-c', 'exit 5']);
    t.equal(x.status, 5, show(x));
    const m = docker(['exec', id, '/nonexistent']);
    t.equal(m.status, 126, `docker exec reports a failed exec as 126 (as with runc): ${show(m)}`);
    const et = docker(['exec', '-t', id, 'tty']);
    t.equal(et.status, 0, show(et));
    t.match(et.stdout, /^\/dev\/pts\/\d+\r\n$/, 'exec -t gets a pty');
    docker(['rm', '--force', id]);
    const rt = run(['--rm', '-t', image, 'sh', '-c', 'tty; echo ok']);
    t.equal(rt.status, 0, show(rt));
    t.match(rt.stdout, /^\/dev\/pts\/\d+\r\nok\r\n$/, 'run -t gets a pty');
  });

  t.test('top (runtime ps), pause/unpause, update', async (t) => {
    const d = run(['-d', image, 'sleep', '60']);
    t.equal(d.status, 0, show(d));
    const id = d.stdout.trim();
    const top = docker(['top', id]);
    t.equal(top.status, 0, show(top));
    t.match(top.stdout, /sleep 60/, 'top lists the container process');

    const p = docker(['pause', id]);
    t.equal(p.status, 0, show(p));
    t.equal(docker(['inspect', '--format', '{{.State.Status}}', id]).stdout.trim(), 'paused', 'paused');
    const u = docker(['unpause', id]);
    t.equal(u.status, 0, show(u));
    t.equal(docker(['inspect', '--format', '{{.State.Status}}', id]).stdout.trim(), 'running', 'running again');

    const up = docker(['update', '--cpu-shares', '512', '--pids-limit', '100', id]);
    t.equal(up.status, 0, show(up));
    const pid = Number(docker(['inspect', '--format', '{{.State.Pid}}', id]).stdout.trim());
    t.equal(cgroupFileOf(pid, 'cpu', 'cpu.shares', 'cpu.weight'), fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? '20' : '512', `cpu shares reach the cgroup (pid ${pid})`);
    t.equal(cgroupFileOf(pid, 'pids', 'pids.max', 'pids.max'), '100', `the pids limit reaches the cgroup (pid ${pid})`);
    docker(['rm', '--force', id]);
  });

  // What the container sees with common `docker run` options, tsrun against runc (the same
  // dockerd, image and options): every section of a probe's output must be equal, with
  // container ids and overlay layer paths normalised. Masked files are covered by a bind of
  // the host's /dev/null with tsrun (docs/contract.md): those lines are normalised too.
  const probe = [
    'echo "== id"; id',
    'echo "== status"; grep -E "^(Cap|NoNewPrivs|Seccomp|Groups|Umask)" /proc/self/status',
    "echo \"== limits\"; awk 'NR>1' /proc/self/limits",
    'echo "== cwd"; pwd',
    "echo \"== env\"; env | grep -v -e '^PWD=' -e '^SHLVL=' -e '^_=' -e '^HOSTNAME=' | sort",
    "echo \"== mounts\"; awk '{print $5, $6, $(NF-2), $(NF-1)}' /proc/self/mountinfo | sort",
    "echo \"== dev\"; ls -la /dev | awk 'NR>1 {print $1, $3, $4, $5, $6, $NF}'",
    'echo "== oom"; cat /proc/self/oom_score_adj',
    'echo "== fds"; ls /proc/self/fd | tr "\\n" " "; echo',
    'echo "== cgroup"; cat /proc/self/cgroup',
    'echo "== ns"; for n in ipc mnt net pid uts cgroup; do echo "$n $(readlink /proc/self/ns/$n | cut -d: -f1)"; done',
    'echo "== sys"; touch /proc/sys/x /sys/x 2>&1 | sed "s/^touch: //"; head -c 20 /proc/kcore | wc -c; cat /proc/sys/net/ipv4/ip_forward',
  ].join('\n');
  const normalise = (line: string): string => line
    .replace(/[0-9a-f]{64}/g, 'ID')
    // /sys/fs/cgroup "ro": runc 1.1 leaves its tmpfs writable (only the hierarchies are read-only)
    .replace(/^\/sys\/fs\/cgroup r[ow],(.* tmpfs tmpfs)$/, '/sys/fs/cgroup ro-or-rw,$1')
    .replace(/^(\/\S+) rw,nosuid tmpfs tmpfs$/, '$1 MASKED')
    .replace(/^(\/\S+) rw,relatime devtmpfs devtmpfs$/, '$1 MASKED');
  const variants: Array<[string, string[]]> = [
    ['no options', []],
    ['--privileged', ['--privileged']],
    ['--read-only --tmpfs', ['--read-only', '--tmpfs', '/run:size=1m']],
    ['--user --group-add', ['--user', '1000:1000', '--group-add', '10']],
    ['--cap-drop ALL --cap-add --security-opt no-new-privileges', ['--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', '--security-opt', 'no-new-privileges']],
    ['-v ro, -w, -e, --hostname', ['-v', '/etc:/hostetc:ro', '-w', '/tmp', '-e', 'FOO=bar', '--hostname', 'h1']],
    ['--device --sysctl --pids-limit --ulimit', ['--device', '/dev/fuse', '--sysctl', 'net.ipv4.ip_forward=1', '--pids-limit', '50', '--ulimit', 'nofile=1024:2048']],
    ['--shm-size --oom-score-adj', ['--shm-size', '1m', '--oom-score-adj', '300']],
  ];
  for (const [name, options] of variants) {
    t.test(`run ${name}: the container sees what it sees with runc`, async (t) => {
      const theirs = run(['--rm', ...options, image, 'sh', '-c', probe], 'runc');
      const ours = run(['--rm', ...options, image, 'sh', '-c', probe]);
      if (theirs.status !== 0) {
        // --privileged asks for every capability, CAP_SYS_RESOURCE too, which these hosts withhold
        t.equal(ours.status, theirs.status, `runc refuses it (${theirs.stderr.trim()}), so does tsrun: ${show(ours)}`);
        return;
      }
      t.equal(ours.status, 0, `tsrun: ${show(ours)}`);
      sameSections(t, name, probeSections(theirs.stdout, normalise), probeSections(ours.stdout, normalise), 12);
    });
  }

  t.test('timing: run --rm IMAGE true, tsrun and runc alternately', async (t) => {
    const n = Number(process.env.ENGINE_BENCH_N ?? 3);
    const { timings, failures } = timeAlternating(['tsrun', 'runc'], n, (rt) => run(['--rm', image, 'true'], rt));
    t.same(failures, [], 'every timed run succeeded');
    t.comment(`${timingTable('docker', timings)}\n(tsrun = ${tsrunBin})`);
  });
}
