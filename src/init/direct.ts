// The direct init: a container built by `tsrun create` itself, with no Node process
// inside it (issue 13: the Node init cost a second Node start per create, ~30 ms and
// ~60 ms of CPU).
//
// Namespaces belong to threads, so create's main thread does what the Node init's main
// thread did: it unshares the container's namespaces (pid applies to its children), makes
// tsrun's files read-only there, spawns tsrun-stage (`wait` mode: pid 1 of the new pid
// namespace, alone in it), receives the proc mount the stage makes (proc shows the pid
// namespace of the process that mounts it), mounts the rootfs and pivots: pivot_root moves
// the stage's root along with ours. Then our main thread goes back to its own namespaces
// and cwd; we put the stage in its cgroups and send it the plan (user, capabilities,
// seccomp, process), and it goes on exactly as after the Node init.
//
// Other Node threads never leave the host's namespaces, and nothing of ours is in the
// container's pid namespace but the stage, which holds the container's root only (its cwd
// is "/", moved by pivot_root; it chdirs to process.cwd first thing after the plan).
//
// Only the common configuration goes this way (directInitFits); user namespaces, terminals,
// joined namespaces, hooks that run during create and the rarer fields keep the Node init.
// TSRUN_INIT=node forces the Node init (for comparing the two).
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { CLONE, libc, MFD_CLOEXEC, MS, O } from '../../bindings';
import { sendFd, socketpair } from '../../bindings/tty';
import { errorFromRecord, errorRecord, TsrunError } from '../errors';
import { STAGE } from '../protocol/stage-binary';
import { makeRuntimeReadOnly } from '../security/runtime-protection';
import type { PreparedSeccomp } from '../security/seccomp';
import { buildSeccompCached } from '../security/seccomp-cache';
import { parseMountOptions } from '../spec/mount-options';
import type { Spec } from '../spec/types';
import { PreparedAttributes, prepareAttributes, writeOomScoreAdj } from './attributes';
import { NAMESPACE_FLAGS } from './namespaces';
import { PreparedProcess, prepareProcess, stagePlan } from './process';
import { setupRootfs } from './rootfs';
import { encodePlan } from './stage';
import { writeSysctls } from './sysctl';
import { fixStdioOwnership } from './terminal';
import { runningInUserNamespace } from '../procfs';

/** What rules a config out of the direct init: the reason, or undefined when it fits. */
export function directInitMisfit(config: Spec, opts: { rootless?: boolean; terminal: boolean; noPivot?: boolean; sendsMounts: boolean }): string | undefined {
  if (process.env.TSRUN_INIT === 'node') return 'TSRUN_INIT=node';
  if (process.geteuid?.() !== 0 || runningInUserNamespace() || opts.rootless) return 'not host root';
  const linux = config.linux ?? {};
  const namespaces = linux.namespaces ?? [];
  if (namespaces.some((ns) => ns.path)) return 'a namespace is joined by path';
  const types = new Set(namespaces.map((ns) => ns.type));
  if (!types.has('mount') || !types.has('pid')) return 'no new mount or pid namespace';
  if (types.has('user') || types.has('time')) return 'a user or time namespace';
  if (opts.terminal || opts.noPivot || opts.sendsMounts) return 'a terminal, --no-pivot or mounts made by the runtime';
  if (Object.keys(linux.netDevices ?? {}).length || linux.intelRdt || linux.memoryPolicy || linux.personality) return 'netDevices, intelRdt, memoryPolicy or personality';
  if (linux.seccomp?.listenerPath) return 'a seccomp listener';
  const proc = config.process;
  if (proc?.scheduler || proc?.ioPriority || proc?.execCPUAffinity) return 'process scheduler, ioPriority or execCPUAffinity';
  if ((config.mounts ?? []).filter((m) => m.type === 'proc').length > 1) return 'more than one proc mount';
  return undefined;
}

export interface DirectInitOptions {
  config: Spec;
  rootfs: string;
  bundle: string;
  /** The container's state directory, with exec.fifo made. */
  stateDir: string;
  fifo: string;
  preserveFds: number;
  /** cgroup directories to mount in the container (the init's request.cgroupDirs). */
  cgroupDirs: string[];
  debug: (msg: string) => void;
  warn: (msg: string) => void;
  /** Logging opens --log by path: hold its lines until our main thread is back on the host. */
  holdLogs: boolean;
  /**
   * Called with the stage as soon as it exists (so that a failure further on can reap it),
   * while our main thread is still inside: no path may be used here; work for other threads
   * (they are on the host), such as the cgroup join, may be started.
   */
  onSpawned: (stage: ChildProcess, control: DirectInit['control']) => void;
  /** prestart and createRuntime: run on the host (our main thread goes out and back in), mounts made, before pivot_root. */
  hostHooks?: () => void;
  /** createContainer: run from inside, in the container's namespaces, before pivot_root. */
  containerHooks?: () => void;
}

export interface DirectInit {
  child: ChildProcess;
  /** Our end of the control socket (ready and error lines, as from the Node init). */
  control: NodeJS.ReadableStream & NodeJS.WritableStream;
  /** Hands the stage its plan: call once it is in its cgroups. */
  finish(plan: { sessionKeyring?: string; hookState: string }): void;
  /** Give up (create failed): close what is still open. */
  abandon(): void;
}

/** Namespaces our main thread leaves and comes back to (pid: for its children). */
const OWN_NAMESPACES = ['mnt', 'net', 'uts', 'ipc', 'pid'] as const;
type OwnNamespace = (typeof OWN_NAMESPACES)[number];
const FLAG: Record<OwnNamespace, number> = { mnt: CLONE.NEWNS, net: CLONE.NEWNET, uts: CLONE.NEWUTS, ipc: CLONE.NEWIPC, pid: CLONE.NEWPID };
type NamespaceFds = Array<{ ns: OwnNamespace; fd: number }>;

/** Open the namespaces of our main thread (pid: the one for its children). */
function openOwnNamespaces(): NamespaceFds {
  return OWN_NAMESPACES.map((ns) => ({ ns, fd: fs.openSync(`/proc/thread-self/ns/${ns === 'pid' ? 'pid_for_children' : ns}`, 'r') }));
}

/** Move our main thread into `fds`; setns into a mount namespace also moves root and cwd to its root. */
function enter(fds: NamespaceFds): void {
  for (const { ns, fd } of fds) libc().setns(fd, FLAG[ns]);
}

/**
 * Our main thread moved between the host's namespaces and the container's. If that fails, nothing more may be
 * done: every later path (state.json, the log, cleanup) would name the container's files.
 * We stop as a SIGKILL would; `delete --force` cleans up from the recovery record.
 */
export function switchNamespacesOrDie(run: () => void): void {
  try {
    run();
  } catch (err) {
    fs.writeSync(2, `tsrun: returning to our own namespaces failed (${(err as Error).message}): stopping here; run delete --force\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}

/**
 * prestart and createRuntime hooks run in the runtime's namespaces, as runc's: our main
 * thread goes back to the host (and our cwd) for them, then into the container again.
 */
function onHost(own: NamespaceFds, cwd: number, run: () => void): void {
  const inside = openOwnNamespaces();
  try {
    switchNamespacesOrDie(() => {
      enter(own);
      libc().fchdir(cwd);
    });
    run();
  } finally {
    switchNamespacesOrDie(() => enter(inside));
    for (const { fd } of inside) fs.closeSync(fd);
  }
}

/**
 * Build the container up to the plan: see the top of this file. Synchronous from the
 * unshare to the return to our namespaces (async work would run on threads that stayed).
 */
export function startDirectInit(opts: DirectInitOptions): DirectInit {
  try {
    return buildContainer(opts);
  } catch (err) {
    // Worded as the Node init's errors reach create (engines match the prefix).
    throw errorFromRecord(errorRecord(err), 'unable to start container process: ');
  }
}

function buildContainer(opts: DirectInitOptions): DirectInit {
  const { config } = opts;
  const sys = libc();
  const proc = config.process!;
  // Host-side preparations, as the Node init did them before its namespace changes.
  const seccomp = buildSeccompCached(config.linux?.seccomp, opts.debug);
  if (seccomp?.unknownSyscalls.length) opts.debug(`seccomp: unknown syscalls skipped: ${seccomp.unknownSyscalls.join(' ')}`);
  const attributes = prepareAttributes(proc, config.linux);
  const namespaces = config.linux?.namespaces ?? [];
  const flags = namespaces.filter((ns) => ns.type !== 'cgroup').reduce((f, ns) => f | NAMESPACE_FLAGS[ns.type], 0);
  const procIndex = (config.mounts ?? []).findIndex((m) => m.type === 'proc');
  const procOptions = procIndex >= 0 ? parseMountOptions(config.mounts![procIndex].options) : undefined;

  const [ours, theirs] = socketpair();
  const fifoFd = fs.openSync(opts.fifo, O.PATH | O.CLOEXEC);
  const own = openOwnNamespaces();
  const cwd = fs.openSync('.', O.PATH | O.DIRECTORY | O.CLOEXEC);
  const umask = process.umask(0);
  const { debug, warn, flush } = heldLogs(opts);
  let child: ChildProcess | undefined;
  let prepared: PreparedProcess;
  // The stage's fd numbers: its control socket and exec.fifo.
  let controlAt = -1;
  let fifoAt = -1;
  try {
    try {
      sys.unshare(flags);
      makeRuntimeReadOnly();
      const attrs = procOptions ? procOptions.flags & (MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC) : 0;
      const spawned = spawnWaitingStage(opts.preserveFds, theirs, [fifoFd], [String(procIndex), String(attrs), ...(procOptions?.data.split(',').filter(Boolean) ?? [])], '/');
      child = spawned.child;
      controlAt = spawned.controlAt;
      fifoAt = spawned.fdsAt[0];
      opts.onSpawned(child, child.stdio[controlAt] as unknown as DirectInit['control']);
      debug(`direct init: tsrun-stage is pid ${child.pid}`);
      if (config.hostname !== undefined) sys.sethostname(config.hostname);
      if (config.domainname !== undefined) sys.setdomainname(config.domainname);
      writeSysctls(config.linux?.sysctl ?? {});
      setupRootfs({
        config, rootfs: opts.rootfs, bundle: opts.bundle, noPivot: false, debug, beforePivot: () => {
          if (opts.hostHooks) onHost(own, cwd, opts.hostHooks);
          opts.containerHooks?.();
        },
        cgroupDirs: opts.cgroupDirs, mountFdSocket: ours, procMountsSent: procIndex >= 0,
      });
      prepared = prepareProcess(proc, warn);
      fixStdioOwnership(proc.user?.uid ?? 0, false);
    } finally {
      switchNamespacesOrDie(() => {
        enter(own);
        sys.fchdir(cwd);
      });
      for (const { fd } of own) fs.closeSync(fd);
      fs.closeSync(cwd);
      process.umask(umask);
      fs.closeSync(theirs);
      flush();
    }
  } catch (err) {
    child?.kill('SIGKILL'); // reaped by create, which has it from onSpawned
    fs.closeSync(ours);
    fs.closeSync(fifoFd);
    seccomp?.release();
    throw err;
  }
  const started = child!;
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    fs.closeSync(ours);
    fs.closeSync(fifoFd);
    seccomp?.release();
  };
  return {
    child: started,
    control: started.stdio[controlAt] as unknown as DirectInit['control'],
    finish: ({ sessionKeyring, hookState }) => {
      try {
        // Inherited through execve, as the Node init's own was.
        if (proc.oomScoreAdj !== undefined) writeOomScoreAdj(`/proc/${started.pid}/oom_score_adj`, proc.oomScoreAdj);
        sendPlan(ours, config, prepared, attributes, seccomp, { controlFd: controlAt, fifoFd: fifoAt, sessionKeyring, hookState });
      } finally {
        close();
      }
    },
    abandon: close,
  };
}

/**
 * Inside the container's root, --log FILE would name one of the container's files: with
 * `holdLogs` its lines wait until `flush`, called once we are back (lines to stderr, an fd,
 * go at once).
 */
export function heldLogs(opts: { debug: (msg: string) => void; warn: (msg: string) => void; holdLogs: boolean }) {
  const held: Array<() => void> = [];
  const hold = (log: (msg: string) => void) => (opts.holdLogs ? (msg: string) => void held.push(() => log(msg)) : log);
  return { debug: hold(opts.debug), warn: hold(opts.warn), flush: () => held.splice(0).forEach((line) => line()) };
}

/**
 * `tsrun-stage wait` from our main thread (its namespaces): fds 0-2 and the preserved ones
 * as ours, then `sock`, the control socket and `fds`; `args` after SOCK and PRESERVE.
 */
export function spawnWaitingStage(preserveFds: number, sock: number, fds: number[], args: string[], cwd?: string): { child: ChildProcess; controlAt: number; fdsAt: number[] } {
  const stdio: Array<'inherit' | 'pipe' | number> = ['inherit', 'inherit', 'inherit'];
  for (let fd = 3; fd < 3 + preserveFds; fd++) stdio.push(fd);
  const sockAt = stdio.push(sock) - 1;
  const controlAt = stdio.push('pipe') - 1;
  const fdsAt = fds.map((fd) => stdio.push(fd) - 1);
  const child = spawn(STAGE, ['wait', String(sockAt), String(preserveFds), ...args], { stdio, cwd, env: {}, detached: true, argv0: 'tsrun-stage' });
  child.on('error', () => {}); // a failed spawn is reported here, at once
  if (child.pid === undefined) throw new TsrunError(`starting ${STAGE} failed`);
  return { child, controlAt, fdsAt };
}

/** A plan to the waiting stage, as a memfd on `sock`. */
export function sendPlanFd(sock: number, data: Buffer): void {
  const memfd = libc().memfdCreate('tsrun-plan', MFD_CLOEXEC);
  try {
    for (let off = 0; off < data.length;) off += fs.writeSync(memfd, data, off);
    sendFd(sock, memfd, 'plan');
  } finally {
    fs.closeSync(memfd);
  }
}

/** The 'i' plan, with the records of wait mode, sent as a memfd. */
function sendPlan(
  sock: number, config: Spec, prepared: PreparedProcess, attributes: PreparedAttributes, seccomp: PreparedSeccomp | undefined,
  fds: { controlFd: number; fifoFd: number; sessionKeyring?: string; hookState: string },
): void {
  const proc = config.process!;
  sendPlanFd(sock, encodePlan(stagePlan(proc, prepared, {
    mode: 'init',
    controlFd: fds.controlFd,
    fifoFd: fds.fifoFd,
    seccomp,
    attributes,
    hooks: config.hooks?.startContainer,
    hookState: fds.hookState,
    cwd: proc.cwd || '/',
    cgroupNamespace: (config.linux?.namespaces ?? []).some((ns) => ns.type === 'cgroup'),
    sessionKeyring: fds.sessionKeyring,
  })));
}
