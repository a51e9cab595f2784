// Helpers for integration tests that run real containers: an asynchronous tsrun runner
// that can hand extra fds (3, 4, ...) to tsrun the way a shim leaks them, a one-shot
// "run this config and give me what the container printed" wrapper, and log-file readers.
import { ChildProcess, spawn, StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import tap from 'tap';
import { Bundle, BundleOptions, makeBundle } from './bundle';
import { cleanEnv, forceDelete, freshRoot, prepareCall, residue, tsrun, TsrunOptions, TsrunResult, tsrunBuilt, uniqueId } from './tsrun';

export interface AsyncTsrunOptions extends TsrunOptions {
  /**
   * What tsrun gets as fds 3, 4, ...: 'pipe' (a pipe whose other end stays in this
   * process, readable via child.stdio[n]), 'ignore' (fd left closed: makes a gap), or an
   * open fd of this process to pass on.
   */
  extraStdio?: Array<'pipe' | 'ignore' | number>;
}

export interface AsyncTsrun {
  child: ChildProcess;
  /** Resolves when tsrun exits (a container it leaves behind may keep running). */
  done: Promise<TsrunResult>;
}

/**
 * Start `node dist/tsrun.js --root ROOT [globalArgs] ...args` without waiting for it.
 * stdout/stderr go to files as with tsrun() (a container inheriting them never blocks us).
 */
export function tsrunAsync(args: string[], opts: AsyncTsrunOptions = {}): AsyncTsrun {
  const call = prepareCall(args, opts);
  const stdio: StdioOptions = [opts.input === undefined ? 'ignore' : 'pipe', call.outFd, call.errFd, ...(opts.extraStdio ?? [])];
  const child = spawn(process.execPath, call.argv, { cwd: opts.cwd, env: opts.env ?? cleanEnv(), stdio });
  call.closeFds();
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 60_000);
  const done = new Promise<TsrunResult>((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      const res = call.result(status, signal, spawnError);
      call.removeTemp();
      resolve(res);
    });
  });
  return { child, done };
}

export interface RunInOptions extends BundleOptions {
  root: string;
  /** Container id; default uniqueId('run'). */
  id?: string;
  /** Extra flags for `run` (before --bundle), e.g. ['--no-pivot']. */
  runArgs?: string[];
  /** Called with the bundle after it is written, before `run` (e.g. to add files to a copied rootfs). */
  prepare?: (bundle: Bundle) => void;
  /** Called with the bundle after the run, before it is removed (e.g. to look into the rootfs). */
  after?: (bundle: Bundle) => void;
  tsrunOptions?: TsrunOptions;
}

export interface RunInResult extends TsrunResult {
  id: string;
  bundle: Bundle;
  /** What residue() found after the run (and after a best-effort delete --force). */
  residue: string[];
}

/**
 * Run one container in the foreground (`tsrun run --bundle B ID`) and return what it
 * printed. Afterwards: delete --force (in case run left it), residue check, bundle removed.
 */
export function runIn(opts: RunInOptions): RunInResult {
  const id = opts.id ?? uniqueId('run');
  const bundle = makeBundle(opts);
  try {
    opts.prepare?.(bundle);
    const r = tsrun(['run', ...(opts.runArgs ?? []), '--bundle', bundle.dir, id], { root: opts.root, ...opts.tsrunOptions });
    // run deletes the container itself; only when it left a state dir is a delete needed
    if (fs.existsSync(path.join(opts.root, id))) forceDelete(id, opts.root);
    const left = residue(id, opts.root, { bundle: bundle.dir });
    opts.after?.(bundle);
    return { ...r, id, bundle, residue: left };
  } finally {
    bundle.cleanup();
  }
}

/**
 * Processes (other than this one) that hold one of `files` open, as "PID fd N -> FILE":
 * a container init or process left behind by a failed command still holds the stdout/stderr
 * files it inherited from tsrun, even when nothing else about it names the container.
 */
export function fdHolders(files: string[]): string[] {
  const wanted = new Set(files.map((f) => path.resolve(f)));
  const out: string[] = [];
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid);
  } catch {
    return out;
  }
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or a kernel thread
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (wanted.has(target)) out.push(`${pid} fd ${fd} -> ${target}`);
    }
  }
  return out;
}

/** Lines of a text, without the empty last one. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
}

/** The last non-empty line of a file ('' when missing or empty). */
export function lastLine(file: string): string {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  const all = text.split('\n').filter((l) => l.trim() !== '');
  return all.length > 0 ? all[all.length - 1] : '';
}

/** Read a file, '' when missing. */
export function readOr(file: string, fallback = ''): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** A new temp dir, removed by the returned function. */
export function tempDir(prefix = 'tsrun-test-'): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** RFC 3339 date-time (with Z or an offset). */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * tap's @tapjs/processinfo plugin hooks every child_process spawn (through the
 * process-on-spawn singleton) and puts NODE_OPTIONS=--import=<its loader> plus
 * _TAPJS_PROCESSINFO_* variables back into the child's environment, even when the caller
 * passed a clean env (cleanEnv()). tsrun, and the container init that tsrun spawns, would
 * then run with tap's loader: ~200 ms more per call and not the program engines run.
 * Call this at the top of an integration test file to drop those hooks (coverage is off).
 */
export function stopTapSpawnHooks(): void {
  const key = Symbol.for('process-on-spawn@*:singletonId');
  const state = (globalThis as Record<symbol, { listeners?: unknown[] } | undefined>)[key];
  if (state?.listeners) state.listeners.length = 0;
}

/**
 * The preamble of a root integration test file: tap's spawn hooks off, the file skipped
 * (planned empty) without root, a built dist/ required, and a fresh --root removed at the end.
 */
export function rootSuite(): string {
  stopTapSpawnHooks();
  if (process.getuid?.() !== 0) {
    tap.plan(0, 'needs root');
    process.exit(0);
  }
  if (!tsrunBuilt()) throw new Error('dist/tsrun.js is missing: run `npm run build` first');
  const root = freshRoot();
  tap.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

/**
 * rmdir /sys/fs/cgroup/<hierarchy>/<name> in every hierarchy where it is empty: the parent
 * of containers' cgroupsPath, which runc never removes and tsrun leaves when another
 * container was still below it.
 */
export function removeEmptyCgroupParent(name: string): void {
  const top = '/sys/fs/cgroup';
  for (const h of fs.existsSync(top) ? fs.readdirSync(top) : []) {
    try {
      fs.rmdirSync(path.join(top, h, name));
    } catch {
      // not there, not empty, or a symlink to a co-mounted hierarchy
    }
  }
}
