// Helpers for the engine tests (test/engines/*.test.ts): podman, Docker and containerd
// driving tsrun, offline, with everything private under one temp dir.
//
// - the engines come from apt (podman + conmon, docker.io, containerd). A missing engine
//   makes its test file FAIL (requireTools), never pass or skip quietly: .ci/run installs them.
// - images are made from the busybox rootfs of the integration tests (tar -C rootfs -c .),
//   imported with `podman import` / `docker import`, or wrapped into a one-layer OCI
//   archive for `ctr image import` (ociArchive).
// - every engine assertion is a plain pass/fail: nothing is marked TODO or skipped because
//   of what tsrun says about itself (--help, features, an error text), so a regression in
//   tsrun cannot turn a failure into a TODO.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { ensureRootfs, repoRoot } from './rootfs';
import { cleanEnv, pidAlive, waitFor } from './tsrun';

/** tsrun as engines call it: an executable with a shebang. TSRUN_BIN overrides it. */
export const tsrunBin: string = process.env.TSRUN_BIN ?? path.join(repoRoot, 'dist', 'tsrun.js');

export interface CmdResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time in milliseconds. */
  ms: number;
  error?: Error;
  /** The command line, for messages. */
  line: string;
}

export interface CmdOptions {
  env?: NodeJS.ProcessEnv;
  /** Milliseconds before the command is killed (SIGKILL); default 60000. */
  timeout?: number;
  input?: string;
  cwd?: string;
}

/** Run a command synchronously and capture its output (pipes). */
export function cmd(bin: string, args: string[], opts: CmdOptions = {}): CmdResult {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, args, {
    env: opts.env ?? cleanEnv(),
    cwd: opts.cwd,
    input: opts.input,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: opts.timeout ?? 60_000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const res: CmdResult = {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    ms,
    line: [bin, ...args].join(' '),
  };
  if (r.error) res.error = r.error;
  return res;
}

/** One line describing a result, for assertion messages. */
export function show(r: CmdResult): string {
  const err = r.stderr.trim().split('\n').slice(-3).join(' | ');
  return `${r.line} -> status ${r.status}${r.signal ? ` signal ${r.signal}` : ''}${r.error ? ` (${r.error.message})` : ''}${err ? `; stderr: ${err}` : ''}`;
}

/** Find an executable: the system directories first (apt's binaries), then PATH. */
export function findTool(name: string): string | undefined {
  const dirs = ['/usr/bin', '/usr/sbin', '/bin', '/sbin', ...(process.env.PATH ?? '').split(':')];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

interface Tap {
  fail(msg: string): void;
  comment(...msg: unknown[]): void;
}

/**
 * Resolve the tools a test file needs ({name: apt package}); when one is missing, fail
 * loudly (the engine suite must not pass on a machine without the engine) and return
 * undefined. Also checks that tsrun is built and executable.
 */
export function requireTools(t: Tap, tools: Record<string, string>): Record<string, string> | undefined {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const [name, pkg] of Object.entries(tools)) {
    const p = findTool(name);
    if (p) found[name] = p;
    else missing.push(`${name} (apt-get install ${pkg})`);
  }
  if (missing.length > 0) {
    t.fail(`engine not installed: ${missing.join(', ')}; .ci/run installs it through scripts/install.sh --deps-only`);
    return undefined;
  }
  try {
    fs.accessSync(tsrunBin, fs.constants.X_OK);
  } catch {
    t.fail(`${tsrunBin} is missing or not executable: run npm run build`);
    return undefined;
  }
  if (process.getuid?.() !== 0) {
    t.fail('engine tests need root');
    return undefined;
  }
  return found;
}

// ---------------------------------------------------------------------------------------
// Cgroups of a container, read from the host

/**
 * A file of the cgroup of `pid` for `controller`: v1 (/sys/fs/cgroup/CONTROLLER/PATH/v1File)
 * or, on a pure cgroup v2 host, the unified one (v2File). On failure, a text that says why
 * (so an assertion on the value shows it).
 */
export function cgroupFileOf(pid: number, controller: string, v1File: string, v2File: string): string {
  let cg = '';
  try {
    cg = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return `no /proc/${pid}/cgroup`;
  }
  const read = (p: string): string => {
    try {
      return fs.readFileSync(p, 'utf8').trim();
    } catch (e) {
      return String(e);
    }
  };
  for (const line of cg.split('\n')) {
    const [, ctrls, p] = line.split(':');
    if (ctrls !== undefined && ctrls.split(',').includes(controller)) return read(path.join('/sys/fs/cgroup', controller, p, v1File));
  }
  const v2 = cg.split('\n').find((l) => l.startsWith('0::'));
  if (v2 && fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return read(path.join('/sys/fs/cgroup', v2.slice(3), v2File));
  return `no ${controller} cgroup in /proc/${pid}/cgroup`;
}

// ---------------------------------------------------------------------------------------
// Images

/** tar of the busybox rootfs (tar -C rootfs -c .) in dir; returns its path. */
export function rootfsTar(dir: string): string {
  const out = path.join(dir, 'busybox-rootfs.tar');
  const r = cmd('tar', ['--exclude=./.complete', '-C', ensureRootfs(), '-cf', out, '.']);
  if (r.status !== 0) throw new Error(`tar failed: ${show(r)}`);
  return out;
}

/**
 * A one-layer OCI image archive (oci-layout, index.json, blobs) around a rootfs tar, named
 * `name` (io.containerd.image.name), for `ctr image import`.
 */
export function ociArchive(layerTar: string, name: string, dir: string): string {
  const work = fs.mkdtempSync(path.join(dir, 'oci-'));
  const blobs = path.join(work, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (buf: Buffer): { digest: string; size: number } => {
    const d = createHash('sha256').update(buf).digest('hex');
    fs.writeFileSync(path.join(blobs, d), buf);
    return { digest: `sha256:${d}`, size: buf.length };
  };
  const layer = put(fs.readFileSync(layerTar));
  const config = put(
    Buffer.from(
      JSON.stringify({
        architecture: goArch(),
        os: 'linux',
        config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
        history: [{ created_by: 'tsrun engine tests: busybox rootfs' }],
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  fs.writeFileSync(
    path.join(work, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          platform: { architecture: goArch(), os: 'linux' },
          annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    }),
  );
  fs.writeFileSync(path.join(work, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const out = path.join(dir, 'busybox-oci.tar');
  const r = cmd('tar', ['-C', work, '-cf', out, 'oci-layout', 'index.json', 'blobs']);
  fs.rmSync(work, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`tar failed: ${show(r)}`);
  return out;
}

function goArch(): string {
  const a = os.arch();
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

// ---------------------------------------------------------------------------------------
// Daemons and cleanup

export interface Daemon {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** Last lines of the daemon's log, for failure messages. */
  logTail(n?: number): string;
  /** SIGTERM, wait (up to 30 s), SIGKILL if needed. Resolves when it has exited. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  // Last resort (a test crashed before its teardown): do not leave a daemon behind.
  for (const c of running) if (c.exitCode === null && c.signalCode === null && c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
});

/** Start a daemon (its own process group), output to logFile, and wait until ready(). */
export async function startDaemon(
  name: string,
  bin: string,
  args: string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; ready: () => boolean; timeoutMs?: number },
): Promise<Daemon> {
  const logFd = fs.openSync(opts.logFile, 'a');
  const child = spawn(bin, args, { env: opts.env ?? cleanEnv(), stdio: ['ignore', logFd, logFd], detached: true });
  fs.closeSync(logFd);
  running.add(child);
  let exited = false;
  const exitP = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), running.delete(child), resolve())));
  child.once('error', () => undefined);
  const logTail = (n = 15): string => {
    try {
      return fs.readFileSync(opts.logFile, 'utf8').trim().split('\n').slice(-n).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async (): Promise<void> => {
    if (exited || !child.pid) return;
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const t = new Promise<boolean>((r) => setTimeout(() => r(false), 30_000).unref());
    if (!(await Promise.race([exitP.then(() => true), t]))) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await exitP;
    }
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (!opts.ready()) {
    if (exited) throw new Error(`${name} exited at start-up (status ${child.exitCode}):\n${logTail()}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} not ready after ${opts.timeoutMs ?? 30_000} ms:\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, pid: child.pid!, child, logFile: opts.logFile, logTail, stop };
}

/** Live processes (not this one) whose command line mentions `needle`: "PID cmdline". */
export function processesMentioning(needle: string): Array<{ pid: number; cmdline: string }> {
  const out: Array<{ pid: number; cmdline: string }> = [];
  for (const n of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(n) || Number(n) === process.pid) continue;
    let c = '';
    try {
      c = fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    if (c.includes(needle) && pidAlive(Number(n))) out.push({ pid: Number(n), cmdline: c });
  }
  return out;
}

/** Mount points at or under dir (this mount namespace). */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = f[4].replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === dir || mp.startsWith(dir + '/')) out.push(mp);
  }
  return out;
}

/**
 * After the daemons are stopped: kill (by pid) processes still mentioning the temp dir
 * (shims, conmon: started by our daemons), unmount what is still mounted under it, and
 * remove it. Returns what had to be cleaned up (the test should report it as a failure).
 */
export function cleanupTempDir(dir: string): string[] {
  const left: string[] = [];
  const procs = processesMentioning(dir);
  for (const p of procs) {
    left.push(`process ${p.pid}: ${p.cmdline.slice(0, 200)}`);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (procs.length > 0) waitFor(() => processesMentioning(dir).length === 0, 5_000);
  const mounts = mountsUnder(dir).sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    left.push(`mount ${m}`);
    spawnSync('umount', ['-l', m]);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return left;
}

/** A private temp dir for one engine test file (/tmp/tsrun-eng-NAME-XXXXXX). */
export function engineTempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tsrun-eng-${name}-`));
}

/**
 * An executable named `tsrun` in dir that runs tsrun with a fixed --root (podman passes no
 * --root, and its cleanup process drops --runtime-flag: a wrapper keeps the state private).
 */
export function tsrunWrapper(dir: string, root: string, name = 'tsrun', bin = tsrunBin): string {
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, name);
  fs.writeFileSync(p, `#!/bin/sh\nexec ${shq(bin)} --root ${shq(root)} "$@"\n`, { mode: 0o755 });
  return p;
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------
// Timing: run --rm IMAGE true, tsrun and runc alternately

export interface Timing {
  runtime: string;
  ms: number[];
}

/** Median of a list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Alternate `run(runtime)` over the runtimes `n` times (after one warm-up each). */
export function timeAlternating(runtimes: string[], n: number, run: (rt: string) => CmdResult): { timings: Timing[]; failures: string[] } {
  const timings = runtimes.map((rt) => ({ runtime: rt, ms: [] as number[] }));
  const failures: string[] = [];
  for (const rt of runtimes) run(rt); // warm-up (page cache, image layers)
  for (let i = 0; i < n; i++) {
    for (const tm of timings) {
      const r = run(tm.runtime);
      if (r.status !== 0) failures.push(show(r));
      else tm.ms.push(r.ms);
    }
  }
  return { timings, failures };
}

/** "runtime: median X ms (min A, max B, n N)" lines. */
export function timingTable(engine: string, timings: Timing[]): string {
  return timings
    .map((tm) =>
      tm.ms.length === 0
        ? `${engine} ${tm.runtime}: no successful run`
        : `${engine} ${tm.runtime}: run --rm IMAGE true median ${median(tm.ms).toFixed(0)} ms (min ${Math.min(...tm.ms).toFixed(0)}, max ${Math.max(...tm.ms).toFixed(0)}, n ${tm.ms.length})`,
    )
    .join('\n');
}

/**
 * Some engine paths are fixed (containerd's shim sockets in /run/containerd/s, dockerd's
 * /run/docker/plugins). Call before starting the engine; the returned function removes
 * those of `dirs` that did not exist before, if nothing but empty directories is in them.
 */
export function removeNewEmptyDirs(dirs: string[]): () => string[] {
  const fresh = dirs.filter((d) => !fs.existsSync(d));
  return () => {
    const kept: string[] = [];
    const prune = (d: string): boolean => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        return true; // gone
      }
      let empty = true;
      for (const e of entries) {
        if (e.isDirectory() && prune(path.join(d, e.name))) continue;
        empty = false;
      }
      if (!empty) return false;
      try {
        fs.rmdirSync(d);
        return true;
      } catch {
        return false;
      }
    };
    for (const d of fresh) if (!prune(d)) kept.push(d);
    return kept;
  };
}
