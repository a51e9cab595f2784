// V8 code cache for tsrun's own files. Every tsrun invocation is a fresh Node process that
// would otherwise parse and compile its bundles (and ffi-rs's loader) from source each time:
// 10-15 ms of a create. Each entry point in dist/ is a small launcher that calls run(): it
// compiles tsrun's files with the bytecode V8 saved earlier (dist/.v8-cache/).
//
// Two kinds of cache, looked up in this order:
//   <name>.<key>.run    written at exit by the first process that ran the file without one;
//                       made after execution, so it also holds the functions that run used
//   <name>.<key>.build  written by `npm run build` before anything ran (top-level code only);
//                       what the container init uses: its view of dist/ is read-only
// <key> is the file's size, mtime and inode: V8 checks only the source length, so a cache
// must never outlive the file it was made from. A cache V8 rejects (another node version)
// is ignored and replaced. Writes go through a temporary file and rename; a process that
// cannot write (read-only mount, unprivileged user) just runs without saving.
// Plain require()s: this file runs in every tsrun process, before anything else, and an ES
// namespace import would copy each module's properties first (see scripts/build.js).
/* eslint-disable @typescript-eslint/no-require-imports */
import type * as FS from 'node:fs';
import type * as PATH from 'node:path';
import type * as VM from 'node:vm';
const fs = require('node:fs') as typeof FS;
const Module = require('node:module') as typeof import('node:module');
const path = require('node:path') as typeof PATH;
const vm = require('node:vm') as typeof VM;

export const CACHE_DIR = '.v8-cache';

interface ModuleInternals {
  _compile(content: string, filename: string): unknown;
  exports: unknown;
  require(id: string): unknown;
}

/** The cache file names of `file` (run, build), or undefined when it cannot be stat'ed. */
export function cacheFiles(distDir: string, file: string): { run: string; build: string } | undefined {
  let st: FS.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return undefined;
  }
  const base = path.join(distDir, CACHE_DIR, `${path.basename(file)}.${st.size}-${Math.floor(st.mtimeMs)}-${st.ino}`);
  return { run: `${base}.run`, build: `${base}.build` };
}

function readIfExists(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Write atomically; any failure (EROFS, EACCES, ENOSPC) only means no cache next time. */
export function saveCache(file: string, data: Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    fs.writeFileSync(tmp, data, { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing to clean
    }
  }
}

/** The source Node would compile for a CommonJS file (wrapped, shebang removed). */
export function wrappedSource(content: string): string {
  return Module.wrap(content.startsWith('#!') ? content.replace(/^#!.*/, '') : content);
}

/**
 * Compile tsrun's files (anything under `packageDir`) with the code cache from now on, then
 * load `main` (a path in `distDir`). `saveAtExit` is false for the inits: they must never
 * write files from the host's view once they run in the container's (nor could they: their
 * dist/ is read-only).
 */
export function run(distDir: string, main: string, saveAtExit: boolean): void {
  const packageDir = path.dirname(distDir);
  const pending: Array<{ script: VM.Script; file: string }> = [];
  const proto = Module.prototype as unknown as ModuleInternals;
  const compile = proto._compile;
  proto._compile = function compileCached(this: ModuleInternals, content: string, filename: string): unknown {
    if (!filename.startsWith(packageDir + path.sep) || filename.includes(`${path.sep}${CACHE_DIR}${path.sep}`)) {
      return compile.call(this, content, filename);
    }
    const names = cacheFiles(distDir, filename);
    const runCache = names && readIfExists(names.run);
    const cachedData = runCache ?? (names && readIfExists(names.build));
    const script = new vm.Script(wrappedSource(content), { filename, cachedData });
    if (names && (!runCache || script.cachedDataRejected)) pending.push({ script, file: names.run });
    const fn = script.runInThisContext() as (...args: unknown[]) => unknown;
    const require = Module.createRequire(filename);
    return fn.call(this.exports, this.exports, require, this, filename, path.dirname(filename));
  };
  if (saveAtExit) {
    process.once('exit', () => {
      for (const { script, file } of pending) saveCache(file, script.createCachedData());
    });
  }
  require(path.join(distDir, main));
}
