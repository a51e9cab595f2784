// CVE-2019-5736 class: a process in the container must never get a writable handle on the
// runtime's executable (here the host's node binary, reachable as /proc/<init>/exe) or on
// tsrun's own files (dist/, and node_modules/ with ffi-rs's native addon).
//
// runc seals a memfd copy of itself or uses a read-only bind; we do the cheap one: our main
// thread unshares a private mount namespace (CLONE_NEWNS affects the calling thread only),
// makes / a recursive slave so nothing propagates back to the host, bind-mounts node,
// dist/ and node_modules/ read-only over themselves, and spawns the init from there (libuv
// forks from this thread, so the child starts in that namespace and its exe sits on a
// read-only mount: opening it for writing fails with EROFS, from any process, at any time).
// The main thread then returns to its own mount namespace.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLONE, libc, MS, O } from '../../bindings';
import { TsrunError } from '../errors';

let cached: string[] | undefined;

/** Files and directories to expose read-only: node, tsrun's bundle dir, its node_modules. */
export function runtimePaths(): string[] {
  if (cached) return cached;
  const out = new Set<string>();
  const add = (p: string | undefined) => {
    if (!p) return;
    try {
      out.add(fs.realpathSync(p));
    } catch {
      // missing: nothing to protect
    }
  };
  add(process.execPath);
  add(__dirname); // dist/ when bundled
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ffi = require.resolve('ffi-rs');
    const i = ffi.lastIndexOf(`${path.sep}node_modules${path.sep}`);
    if (i >= 0) add(ffi.slice(0, i + '/node_modules'.length));
  } catch {
    // not resolvable from here
  }
  cached = [...out];
  return cached;
}

/**
 * Run `spawn` (which must start a child from this thread) with the runtime read-only.
 *
 * Rootless (euid != 0) skips it: making a mount namespace and bind mounts needs
 * CAP_SYS_ADMIN on the host, which an unprivileged user does not have (and Node cannot
 * enter a user namespace of its own to get it: docs/design-notes.md). Nor is it needed: the
 * container's root is the user's own uid (or subordinate ids) on the host, so it can
 * write to node, dist/ and node_modules/ only if that user already can. Installed as
 * usual they belong to host root; a copy the user owns gives the container nothing the
 * user could not do to it directly, and is never used by root.
 */
export function withReadOnlyRuntime<T>(spawn: () => T): T {
  if (process.geteuid?.() !== 0) return spawn();
  const sys = libc();
  const own = fs.openSync('/proc/thread-self/ns/mnt', 'r');
  // setns into a mount namespace also moves the thread to that namespace's root directory:
  // without going back, relative paths (such as --log FILE) would then name files under /.
  const cwd = fs.openSync('.', O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    sys.unshare(CLONE.NEWNS);
    makeRuntimeReadOnly();
    return spawn();
  } finally {
    // unshare(CLONE_NEWNS) gave this thread its own fs_struct, so setns back is allowed.
    sys.setns(own, CLONE.NEWNS);
    sys.fchdir(cwd);
    fs.closeSync(own);
    fs.closeSync(cwd);
  }
}

/**
 * In a mount namespace of our main thread's own: nothing propagates back to the host, and
 * node, dist/ and node_modules/ are read-only from here on.
 */
export function makeRuntimeReadOnly(): void {
  const sys = libc();
  try {
    sys.mount('', '/', '', MS.SLAVE | MS.REC, '');
    for (const p of runtimePaths()) {
      sys.mount(p, p, '', MS.BIND, '');
      sys.mount('', p, '', MS.REMOUNT | MS.BIND | MS.RDONLY, '');
    }
  } catch (err) {
    throw new TsrunError(`protecting the runtime's files (read-only bind mounts): ${(err as Error).message}`);
  }
}
