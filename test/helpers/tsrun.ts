// Run the built CLI (dist/tsrun.js) the way engines do, and look for anything a container
// left behind.
//
// stdout/stderr of tsrun are captured through temp files, not pipes: a detached
// container (create, run -d) inherits tsrun's fds 0-2 and keeps them open, which would
// make a pipe-based spawnSync wait for the container to exit.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from './rootfs';

/** The CLI under test; TSRUN_JS overrides it (e.g. to test an installed copy). */
/**
 * tap's processinfo plugin re-adds NODE_OPTIONS=--import=<tap loader> to every child, even
 * with a clean env: tsrun would then run with tap's loader, slower and unlike production.
 */
function stopTapSpawnHooks(): void {
  const key = Symbol.for('process-on-spawn@*:singletonId');
  const state = (globalThis as Record<symbol, { listeners?: unknown[] } | undefined>)[key];
  if (state?.listeners) state.listeners.length = 0;
}
stopTapSpawnHooks();

export const tsrunJs: string = process.env.TSRUN_JS ?? path.join(repoRoot, 'dist', 'tsrun.js');

export interface TsrunOptions {
  /** --root state directory; default: one temp root per test process (defaultRoot()). */
  root?: string;
  /** Written to tsrun's stdin (then closed); without it stdin is /dev/null. */
  input?: string | Buffer;
  /** Environment; default: this process's environment minus tap's and npm's variables. */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds before tsrun is killed (SIGKILL); default 60000. */
  timeout?: number;
  cwd?: string;
  /** Global flags placed before the subcommand, after --root (e.g. ['--log', f, '--log-format', 'json']). */
  globalArgs?: string[];
  /**
   * Files that receive tsrun's (and so a detached container's) stdout/stderr. They are
   * kept, so a test can read what the container writes later. By default temp files are
   * used and removed after reading.
   */
  stdoutFile?: string;
  stderrFile?: string;
}

export interface TsrunResult {
  /** Exit status, or null if killed by a signal (see signal) or not started (see error). */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the process could not be spawned or timed out (code ETIMEDOUT). */
  error?: Error;
  /** The full argv, for messages. */
  argv: string[];
}

/** True when dist/tsrun.js exists (tests can skip with a clear message otherwise). */
export function tsrunBuilt(): boolean {
  return fs.existsSync(tsrunJs);
}

/** The environment given to tsrun by default: without tap/npm/ts-node variables, so that
 * tap's NODE_OPTIONS loaders do not end up in tsrun or the container init. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (k === 'NODE_OPTIONS' || k === 'NODE' || /^(TAP|_TAPJS_|TS_NODE_|npm_)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** A new empty state directory (/tmp/tsrun-root-XXXXXX) for --root. */
export function freshRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-root-'));
}

let processRoot: string | undefined;
/** The --root used when a call gives none: created once per test process, removed at
 * exit if empty (a non-empty one is left for inspection). */
export function defaultRoot(): string {
  if (!processRoot || !fs.existsSync(processRoot)) {
    if (processRoot === undefined) {
      process.once('exit', () => {
        try {
          if (processRoot) fs.rmdirSync(processRoot);
        } catch {
          /* not empty or gone */
        }
      });
    }
    processRoot = freshRoot();
  }
  return processRoot;
}

/** A container id that is unique on this machine (safe to grep for in residue()). */
export function uniqueId(prefix = 'tt'): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * The argv of `node dist/tsrun.js --root ROOT [globalArgs] ...args` and its stdout/stderr
 * as files (a container inheriting them never blocks us); `result` reads back only what
 * this call appended, `close` releases the fds and the temp dir.
 */
export interface TsrunCall {
  argv: string[];
  outFd: number;
  errFd: number;
  result(status: number | null, signal: NodeJS.Signals | null, error?: Error): TsrunResult;
  closeFds(): void;
  removeTemp(): void;
}

export function prepareCall(args: string[], opts: Pick<TsrunOptions, 'root' | 'globalArgs' | 'stdoutFile' | 'stderrFile'>): TsrunCall {
  const root = opts.root ?? defaultRoot();
  const argv = [tsrunJs, '--root', root, ...(opts.globalArgs ?? []), ...args];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-out-'));
  const outPath = opts.stdoutFile ?? path.join(tmp, 'stdout');
  const errPath = opts.stderrFile ?? path.join(tmp, 'stderr');
  const outFd = fs.openSync(outPath, 'a');
  const errFd = fs.openSync(errPath, 'a');
  const outStart = fs.fstatSync(outFd).size;
  const errStart = fs.fstatSync(errFd).size;
  const read = (p: string, from: number): string => {
    try {
      return fs.readFileSync(p).subarray(from).toString('utf8');
    } catch {
      return '';
    }
  };
  return {
    argv,
    outFd,
    errFd,
    result(status, signal, error) {
      const res: TsrunResult = {
        status,
        signal,
        stdout: read(outPath, outStart),
        stderr: read(errPath, errStart),
        argv: [process.execPath, ...argv],
      };
      if (error) res.error = error;
      return res;
    },
    closeFds() {
      fs.closeSync(outFd);
      fs.closeSync(errFd);
    },
    removeTemp() {
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** Run `node dist/tsrun.js --root ROOT [globalArgs] ...args` synchronously. */
export function tsrun(args: string[], opts: TsrunOptions = {}): TsrunResult {
  const call = prepareCall(args, opts);
  const { argv, outFd, errFd } = call;
  try {
    const r = spawnSync(process.execPath, argv, {
      cwd: opts.cwd,
      env: opts.env ?? cleanEnv(),
      input: opts.input,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', outFd, errFd],
      timeout: opts.timeout ?? 60_000,
      killSignal: 'SIGKILL',
    });
    return call.result(r.status, r.signal, r.error);
  } finally {
    call.closeFds();
    call.removeTemp();
  }
}

/** Best-effort cleanup for t.teardown: `delete --force ID` (errors ignored). */
export function forceDelete(id: string, root?: string): TsrunResult {
  return tsrun(['delete', '--force', id], { root, timeout: 30_000 });
}

/** Parse `tsrun state ID` output; throws with stderr if it failed. */
export function state(id: string, root?: string): Record<string, unknown> & { status: string; pid: number } {
  const r = tsrun(['state', id], { root });
  if (r.status !== 0) throw new Error(`tsrun state ${id} failed (${r.status}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as Record<string, unknown> & { status: string; pid: number };
}

/** Poll until `pred()` is true or `timeoutMs` passes; returns whether it became true. */
export function waitFor(pred: () => boolean, timeoutMs = 10_000, intervalMs = 20): boolean {
  const end = Date.now() + timeoutMs;
  const sab = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    if (pred()) return true;
    if (Date.now() >= end) return false;
    Atomics.wait(sab, 0, 0, intervalMs);
  }
}

/** True when `pid` exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // state is the field after the ")" that ends comm
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function readText(p: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** Directories under /sys/fs/cgroup whose name contains `needle` (all hierarchies, v1 and v2). */
function findCgroups(needle: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 12) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue; // cgroup dirs; skips the symlinked v1 aliases (cpu -> cpu,cpuacct)
      const p = path.join(dir, e.name);
      if (e.name.includes(needle)) found.push(p);
      walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

export interface ResidueOptions {
  /**
   * The container's bundle: also report host mounts mentioning it, and processes in
   * another mount namespace whose mountinfo mentions it (container processes whose
   * rootfs is inside the bundle, e.g. makeBundle({copyRootfs: true})).
   */
  bundle?: string;
  /**
   * The container's rootfs, checked like `bundle`. Do not pass the shared rootfs while
   * other containers using it may still run: their processes would be reported too.
   */
  rootfs?: string;
}

/**
 * Anything left on the machine by container `id` under state root `root`; [] when clean.
 * Each entry is prefixed by its kind: "state:", "mount:", "cgroup:", "process:".
 * Checks: entries of `root` whose name contains the id (and their contents); lines of
 * /proc/self/mountinfo mentioning the id or the bundle; cgroup directories whose name
 * contains the id; processes (other than this one) whose cmdline, environ or cgroup
 * mention the id, or whose mountinfo mentions the bundle/rootfs (best effort; zombies
 * are ignored, the host's init reaps lazily).
 */
export function residue(id: string, root: string, opts: ResidueOptions = {}): string[] {
  const out: string[] = [];

  // state dir
  let rootEntries: string[] = [];
  try {
    rootEntries = fs.readdirSync(root);
  } catch {
    /* root gone: nothing left there */
  }
  for (const name of rootEntries) {
    if (!name.includes(id)) continue;
    const p = path.join(root, name);
    out.push(`state: ${p}`);
    try {
      if (fs.lstatSync(p).isDirectory()) for (const sub of fs.readdirSync(p)) out.push(`state: ${path.join(p, sub)}`);
    } catch {
      /* vanished meanwhile */
    }
  }

  // mounts
  const paths: string[] = [];
  if (opts.bundle) paths.push(path.resolve(opts.bundle));
  if (opts.rootfs) paths.push(path.resolve(opts.rootfs));
  const needles = [id, ...paths];
  for (const line of readText('/proc/self/mountinfo').split('\n')) {
    if (line && needles.some((n) => line.includes(n))) out.push(`mount: ${line}`);
  }

  // cgroups
  for (const cg of findCgroups(id)) out.push(`cgroup: ${cg}`);

  // processes
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    /* no /proc */
  }
  let ownMntNs = '';
  try {
    ownMntNs = fs.readlinkSync('/proc/self/ns/mnt');
  } catch {
    /* no ns files */
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    if (!pidAlive(Number(pid))) continue;
    const cmdline = readText(`/proc/${pid}/cmdline`).replace(/\0/g, ' ').trim();
    const hits: string[] = [];
    if (cmdline.includes(id)) hits.push('cmdline');
    if (readText(`/proc/${pid}/environ`).includes(id)) hits.push('environ');
    if (readText(`/proc/${pid}/cgroup`).includes(id)) hits.push('cgroup');
    if (paths.length > 0) {
      let mntNs = '';
      try {
        mntNs = fs.readlinkSync(`/proc/${pid}/ns/mnt`);
      } catch {
        /* exited or kernel thread */
      }
      if (mntNs && mntNs !== ownMntNs) {
        const mi = readText(`/proc/${pid}/mountinfo`);
        if (paths.some((p) => mi.includes(p))) hits.push('mountinfo');
      }
    }
    if (hits.length > 0) out.push(`process: ${pid} (${hits.join(',')}) ${cmdline}`);
  }
  return out;
}
