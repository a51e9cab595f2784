// Spawning the container init. The pid (and time) namespace must exist before the init
// does: we unshare or join it on our main thread, spawn (libuv forks from this thread, so
// the child lands in it), then return our main thread to its own namespace so that hooks
// and later children stay on the host. A time namespace given by path is the exception:
// only a single-threaded process may join one (docs/design-notes.md), so tsrun-userns
// joins it before it execs node (or forks the init, with a user namespace).
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { CLONE, libc } from '../../bindings';
import type { LinuxNamespace, LinuxTimeOffset } from '../spec/types';
import { TsrunError } from '../errors';
import { CONTROL_FD_ENV } from '../protocol/init-protocol';
import { withReadOnlyRuntime } from '../security/runtime-protection';
import { runningInUserNamespace } from '../procfs';
import { JoinUserNamespace, openUserNamespace, requireTrampoline, TRAMPOLINE, userNamespaceHandshake, UserNamespaceOptions } from './userns';

export interface SpawnedInit {
  child: ChildProcess;
  /** Our end of the control socket. */
  control: NodeJS.ReadableStream & NodeJS.WritableStream;
  /** The fd numbers, in the child, of SpawnInitOptions.extraFds (in the same order). */
  extraFds: number[];
  /**
   * The init's pid. With a user namespace `child` is the waiter (tsrun-userns init, or
   * join for a rootless exec), which exits with the init's status, and the pid is known
   * once the handshake is done.
   */
  pid: Promise<number>;
}

export interface SpawnInitOptions {
  namespaces: LinuxNamespace[];
  timeOffsets?: Record<string, LinuxTimeOffset>;
  preserveFds: number;
  debug: boolean;
  /** The script to run; default the container init (exec uses the exec-init). */
  script?: string;
  /** Our fds to pass on after the control socket (e.g. a console socket). */
  extraFds?: number[];
  /** A user namespace to create or join (create): spawned through `tsrun-userns init`. */
  userns?: UserNamespaceOptions;
  /** The running container's user namespace (exec): spawned through `tsrun-userns exec`. */
  joinUserns?: JoinUserNamespace;
  /** exec --detach: a process forked by tsrun-userns must be our caller's to reap at once. */
  detach?: boolean;
}

/** The bundled init lives next to the bundled CLI. */
export const INIT_SCRIPT = path.join(__dirname, 'init.js');
/** Node's flags for the inits, as the CLI's shebang (scripts/build.js): no young-generation collection while they load. */
const NODE_FLAGS = ['--min-semi-space-size=8'];

export function spawnInit(opts: SpawnInitOptions): SpawnedInit {
  const routed = pidNamespaceByTrampoline(opts);
  const { userns } = routed;
  // With a user namespace, pid and time were made (or found) for us: see userns.ts.
  const joinedOnly = (ns: LinuxNamespace | undefined) => (userns && !ns?.path ? undefined : ns);
  // Rootless exec: the trampoline joins pid and time after the user namespace (we may not).
  const byTrampoline = routed.joinUserns?.pid !== undefined;
  const pidNs = byTrampoline ? undefined : joinedOnly(opts.namespaces.find((ns) => ns.type === 'pid'));
  const time = opts.namespaces.find((ns) => ns.type === 'time');
  // A new time namespace is ours to make here; one to join goes to tsrun-userns.
  const timeNs = byTrampoline || time?.path ? undefined : joinedOnly(time);
  const joinTime = !byTrampoline && !routed.joinUserns && time?.path ? time : undefined;
  const restore: Array<{ fd: number; flag: number }> = [];
  let timeFd = -1;
  try {
    if (joinTime) timeFd = openTimeNamespace(joinTime);
    for (const [ns, flag, own] of [
      [pidNs, CLONE.NEWPID, '/proc/self/ns/pid'],
      [timeNs, CLONE.NEWTIME, '/proc/self/ns/time'],
    ] as const) {
      if (!ns) continue;
      // A multithreaded process cannot setns back into a time namespace (EUSERS): our later
      // children (hooks) share the container's clock offsets, which only shift
      // CLOCK_MONOTONIC and CLOCK_BOOTTIME.
      if (flag === CLONE.NEWPID) restore.push({ fd: fs.openSync(own, 'r'), flag });
      if (ns.path) joinForChildren(ns, flag);
      else libc().unshare(flag);
      if (flag === CLONE.NEWTIME) writeTimeOffsets(opts.timeOffsets ?? {});
    }
    // fds 3..3+N-1 pass through at the same numbers; the control socket comes after them.
    const stdio: Array<'inherit' | 'pipe' | number> = ['inherit', 'inherit', 'inherit'];
    for (let fd = 3; fd < 3 + opts.preserveFds; fd++) stdio.push(fd);
    stdio.push('pipe');
    const controlFd = stdio.length - 1;
    const extraFds = (opts.extraFds ?? []).map((fd) => {
      stdio.push(fd);
      return stdio.length - 1;
    });
    const env: Record<string, string> = { [CONTROL_FD_ENV]: String(controlFd) };
    if (opts.debug) env.DEBUG = 'tsrun:*';
    const script = opts.script ?? INIT_SCRIPT;
    let file = process.execPath;
    let args = [...NODE_FLAGS, script];
    let syncFd = -1;
    let joinFd = -1;
    const { joinUserns } = routed;
    // The trampoline closes it once joined.
    const childTimeFd = timeFd >= 0 ? stdio.push(timeFd) - 1 : -1;
    if (userns) {
      const opened = openUserNamespace(userns);
      joinFd = opened.joinFd;
      stdio.push('pipe');
      syncFd = stdio.length - 1;
      let childJoin = userns.none ? -2 : -1;
      if (joinFd >= 0) {
        stdio.push(joinFd);
        childJoin = stdio.length - 1;
      }
      file = TRAMPOLINE;
      args = ['init', String(syncFd), String(childJoin), String(opened.flags), String(childTimeFd), process.execPath, 'tsrun-init', ...NODE_FLAGS, script];
    } else if (joinUserns) {
      // The trampoline closes these fds before it execs node.
      const pass = (fd: number | undefined) => {
        if (fd === undefined || fd < 0) return -1;
        stdio.push(fd);
        return stdio.length - 1;
      };
      const userFd = pass(joinUserns.user);
      const timeFd = pass(joinUserns.time);
      file = TRAMPOLINE;
      if (joinUserns.pid !== undefined) {
        const pidFd = pass(joinUserns.pid);
        stdio.push('pipe');
        syncFd = stdio.length - 1;
        args = ['join', String(syncFd), String(userFd), String(pidFd), String(timeFd), opts.detach ? '0' : '1', process.execPath, 'tsrun-init', ...NODE_FLAGS, script];
      } else {
        args = ['exec', String(userFd), String(timeFd), process.execPath, 'tsrun-init', ...NODE_FLAGS, script];
      }
    } else if (childTimeFd >= 0) {
      // No user namespace: tsrun-userns joins the time namespace and execs node in place.
      requireTrampoline();
      file = TRAMPOLINE;
      args = ['exec', '-1', String(childTimeFd), process.execPath, 'tsrun-init', ...NODE_FLAGS, script];
    }
    // Started from a private mount namespace where node and tsrun's files are read-only.
    let child: ChildProcess;
    try {
      child = withReadOnlyRuntime(() => spawn(file, args, {
        stdio,
        env,
        detached: true, // its own session, like runc's init; it must outlive us
        argv0: 'tsrun-init',
      }));
    } finally {
      if (joinFd >= 0) fs.closeSync(joinFd);
      if (timeFd >= 0) fs.closeSync(timeFd);
      timeFd = -1;
      for (const fd of routed.opened) fs.closeSync(fd);
    }
    const control = child.stdio[controlFd] as unknown as SpawnedInit['control'];
    const pid = syncFd >= 0
      ? userNamespaceHandshake(child, child.stdio[syncFd] as unknown as Duplex, userns)
      : Promise.resolve(child.pid!);
    pid.catch(() => {});
    return { child, control, extraFds, pid };
  } finally {
    if (timeFd >= 0) fs.closeSync(timeFd);
    for (const { fd, flag } of restore) {
      libc().setns(fd, flag);
      fs.closeSync(fd);
    }
  }
}

/**
 * tsrun as root of a user namespace that does not own its pid namespace (the runtime of
 * rootless podman): it could enter the container's pid namespace but never return, since
 * setns back needs CAP_SYS_ADMIN over our own pid namespace, and its later children (hooks)
 * would land in the container. tsrun-userns makes (init, JOIN_FD -2) or joins (join,
 * USERNS_FD -1) the pid namespace instead, without a user namespace of its own.
 */
function pidNamespaceByTrampoline(opts: SpawnInitOptions): Pick<SpawnInitOptions, 'userns' | 'joinUserns'> & { opened: number[] } {
  const pid = opts.namespaces.find((ns) => ns.type === 'pid');
  const time = opts.namespaces.find((ns) => ns.type === 'time');
  if (opts.userns || opts.joinUserns || !pid || mayReturnToOwnPidNs()) return { userns: opts.userns, joinUserns: opts.joinUserns, opened: [] };
  if (!pid.path) {
    return {
      userns: { user: { type: 'user' }, none: true, uidMappings: [], gidMappings: [], newPid: true, newTime: !!time && !time.path, timeOffsets: opts.timeOffsets },
      opened: [],
    };
  }
  const opened = [openNamespace(pid)];
  if (time?.path) opened.push(openNamespace(time));
  return { joinUserns: { user: -1, pid: opened[0], time: opened[1] }, opened };
}

let returnable: boolean | undefined;
/** Whether setns into our own pid namespace is allowed (a no-op then): the way back after a change. */
function mayReturnToOwnPidNs(): boolean {
  if (returnable !== undefined) return returnable;
  if (process.geteuid?.() === 0 && !runningInUserNamespace()) return (returnable = true);
  const fd = fs.openSync('/proc/self/ns/pid', 'r');
  try {
    libc().setns(fd, CLONE.NEWPID);
    returnable = true;
  } catch {
    returnable = false;
  } finally {
    fs.closeSync(fd);
  }
  return returnable;
}

/** An fd of a namespace given by path; a missing or unreadable path is one clear error. */
export function openNamespace(ns: LinuxNamespace): number {
  try {
    return fs.openSync(ns.path!, 'r');
  } catch (err) {
    throw new TsrunError(`${ns.type} namespace path ${ns.path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
}

/**
 * The fd of a time namespace to join, checked to be one: tsrun-userns's setns would
 * otherwise fail with a bare EINVAL on a line of its own.
 */
function openTimeNamespace(ns: LinuxNamespace): number {
  const fd = openNamespace(ns);
  const kind = fs.readlinkSync(`/proc/self/fd/${fd}`);
  if (!kind.startsWith('time:[')) {
    fs.closeSync(fd);
    throw new TsrunError(`joining time namespace ${ns.path}: not a time namespace (${kind})`);
  }
  return fd;
}

function joinForChildren(ns: LinuxNamespace, flag: number): void {
  const fd = openNamespace(ns);
  try {
    libc().setns(fd, flag);
  } catch (err) {
    throw new TsrunError(`joining ${ns.type} namespace ${ns.path}: ${(err as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Clock offsets of a new time namespace: writable only until its first process exists. */
function writeTimeOffsets(offsets: Record<string, LinuxTimeOffset>): void {
  const lines = Object.entries(offsets).map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}`);
  if (lines.length === 0) return;
  try {
    fs.writeFileSync('/proc/self/timens_offsets', lines.join('\n'));
  } catch (err) {
    throw new TsrunError(`linux.timeOffsets: ${(err as Error).message}`);
  }
}
