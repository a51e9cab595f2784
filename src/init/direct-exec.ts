// The direct exec: `tsrun exec` without the Node exec-init (the create side is direct.ts).
//
// Our main thread joins the container's namespaces but pid and time, from tsrun's own pid
// namespace, where the container cannot see it; it resolves the process there (cwd, PATH,
// the user's HOME) and spawns `tsrun-stage wait`, which starts with the container's mount
// namespace and root but in our pid namespace. Back on the host, `exec` puts the stage in
// the container's cgroups and sends it an 'e' (or 'd') plan: it joins the pid (and time)
// namespace for its child and forks, and only that child, holding the container's root and
// nothing of ours, is ever visible in the container, as after the exec-init.
//
// As for create: terminals, user namespaces, a chroot-only container, scheduler/ioPriority/
// execCPUAffinity and seccomp listeners keep the exec-init; TSRUN_INIT=node forces it.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { CLONE, libc, O } from '../../bindings';
import { socketpair } from '../../bindings/tty';
import { errorFromRecord, errorRecord, StateError, TsrunError } from '../errors';
import { buildSeccompCached } from '../security/seccomp-cache';
import { withReadOnlyRuntime } from '../security/runtime-protection';
import type { LinuxSeccomp, Process } from '../spec/types';
import { prepareAttributes, writeOomScoreAdj } from './attributes';
import { heldLogs, sendPlanFd, spawnWaitingStage, switchNamespacesOrDie } from './direct';
import { openCgroupHome, prepareProcess, stagePlan } from './process';
import { encodePlan } from './stage';
import { fixStdioOwnership } from './terminal';
import { runningInUserNamespace, startTime } from '../procfs';

/** What rules an exec out of the direct path: the reason, or undefined when it fits. */
export function directExecMisfit(initPid: number, proc: Process, opts: { seccomp?: LinuxSeccomp; userns: boolean }): string | undefined {
  if (process.env.TSRUN_INIT === 'node') return 'TSRUN_INIT=node';
  if (process.geteuid?.() !== 0 || runningInUserNamespace() || opts.userns) return 'not host root, or a user namespace';
  if (proc.terminal) return 'a terminal';
  if (proc.scheduler || proc.ioPriority || proc.execCPUAffinity) return 'process scheduler, ioPriority or execCPUAffinity';
  if (opts.seccomp?.listenerPath) return 'a seccomp listener';
  try {
    if (fs.readlinkSync(`/proc/${initPid}/root`) !== '/') return 'a container without a mount namespace (chroot)';
  } catch {
    return undefined; // gone: the checks below say so
  }
  return undefined;
}

export interface DirectExecOptions {
  initPid: number;
  initStartTime: string;
  process: Process;
  seccomp?: LinuxSeccomp;
  preserveFds: number;
  detach: boolean;
  /** Our own cgroup.procs files: the stage returns there after its fork (foreground). */
  cgroupHome: string[];
  sessionKeyring?: string;
  debug: (msg: string) => void;
  warn: (msg: string) => void;
  holdLogs: boolean;
  /** Called with the stage as soon as it exists, so that a failure further on can reap it (no path may be used here). */
  onSpawned: (stage: ChildProcess) => void;
}

export interface DirectExec {
  child: ChildProcess;
  control: NodeJS.ReadableStream & NodeJS.WritableStream;
  /** Send the plan: call once the stage is in the container's cgroups. */
  finish(): void;
  abandon(): void;
}

/** Joined by our main thread in this order (mount last: it changes how paths resolve). */
const JOINED = [['ipc', CLONE.NEWIPC], ['uts', CLONE.NEWUTS], ['net', CLONE.NEWNET], ['cgroup', CLONE.NEWCGROUP], ['mnt', CLONE.NEWNS]] as const;

export function startDirectExec(opts: DirectExecOptions): DirectExec {
  try {
    return spawnInContainer(opts);
  } catch (err) {
    // Worded as the exec-init's errors reach exec.
    throw err instanceof StateError ? err : errorFromRecord(errorRecord(err), 'exec failed: unable to start container process: ');
  }
}

function spawnInContainer(opts: DirectExecOptions): DirectExec {
  const sys = libc();
  const proc = opts.process;
  const seccomp = buildSeccompCached(opts.seccomp, opts.debug);
  const attributes = prepareAttributes(proc, undefined);
  const home = opts.detach ? [] : openCgroupHome(opts.cgroupHome);
  const opened: number[] = [...home];
  const closeAll = () => {
    for (const fd of opened.splice(0)) fs.closeSync(fd);
  };
  try {
    // Every fd is opened before the first join: after the mount join, /proc is the container's.
    const target = (name: string) => `/proc/${opts.initPid}/ns/${name}`;
    const differs = (name: string) => {
      try {
        return fs.readlinkSync(target(name)) !== fs.readlinkSync(`/proc/self/ns/${name}`);
      } catch (err) {
        if (name === 'time' && (err as NodeJS.ErrnoException).code === 'ENOENT') return false; // no time namespaces here
        throw new StateError(`container init ${opts.initPid} is gone (cannot read ${target(name)})`);
      }
    };
    const openNs = (name: string) => {
      const fd = fs.openSync(target(name), O.RDONLY | O.CLOEXEC);
      opened.push(fd);
      return fd;
    };
    const pidNs = differs('pid') ? openNs('pid') : undefined;
    const timeNs = differs('time') ? openNs('time') : undefined;
    const joins = JOINED.filter(([name]) => differs(name)).map(([name, flag]) => ({ name, flag, fd: openNs(name) }));
    // The fds now pin the namespaces: they must be the init's, not a recycled pid's.
    if (startTime(opts.initPid) !== opts.initStartTime) throw new StateError('cannot exec in a stopped container');
    const own = JOINED.map(([name, flag]) => {
      const fd = fs.openSync(`/proc/thread-self/ns/${name}`, 'r');
      opened.push(fd);
      return { flag, fd };
    });
    const cwd = fs.openSync('.', O.PATH | O.DIRECTORY | O.CLOEXEC);
    opened.push(cwd);
    const [ours, theirs] = socketpair();
    opened.push(ours, theirs);

    const { debug, warn, flush } = heldLogs(opts);
    const umask = process.umask(0);
    let prepared;
    let spawned;
    const mntNs = joins.find((j) => j.flag === CLONE.NEWNS)?.fd;
    try {
      // setns into a mount namespace needs a thread whose fs_struct is its own.
      sys.unshare(CLONE.FS);
      const join = (j: { name: string; flag: number; fd: number }) => {
        debug(`join ${j.name} namespace of pid ${opts.initPid}`);
        try {
          sys.setns(j.fd, j.flag);
        } catch (err) {
          throw new TsrunError(`joining the container's ${j.name} namespace: ${(err as Error).message}`);
        }
      };
      for (const j of joins) if (j.flag !== CLONE.NEWNS) join(j);
      // Spawned before the mount join, from the view where tsrun's files are read-only: its
      // forked child is visible in the container until it execs, with tsrun-stage as its exe.
      // The stage joins the mount namespace itself ('J'), then the process's cwd.
      const fds = [...(pidNs !== undefined ? [pidNs] : []), ...(timeNs !== undefined ? [timeNs] : []), ...(mntNs !== undefined ? [mntNs] : []), ...home];
      spawned = withReadOnlyRuntime(() => spawnWaitingStage(opts.preserveFds, theirs, fds, ['-1', '0']));
      opts.onSpawned(spawned.child);
      debug(`direct exec: tsrun-stage is pid ${spawned.child.pid}`);
      for (const j of joins) if (j.flag === CLONE.NEWNS) join(j);
      prepared = prepareProcess(proc, warn);
      fixStdioOwnership(proc.user?.uid ?? 0, false);
    } finally {
      switchNamespacesOrDie(() => {
        for (const { flag, fd } of own) sys.setns(fd, flag);
        sys.fchdir(cwd);
      });
      process.umask(umask);
      flush();
    }
    const { child, controlAt, fdsAt } = spawned;
    let at = 0;
    const pidNsAt = pidNs !== undefined ? fdsAt[at++] : undefined;
    const timeNsAt = timeNs !== undefined ? fdsAt[at++] : undefined;
    const mntNsAt = mntNs !== undefined ? fdsAt[at++] : undefined;
    const homeAt = fdsAt.slice(at);
    const ready = prepared;
    return {
      child,
      control: child.stdio[controlAt] as unknown as DirectExec['control'],
      finish: () => {
        try {
          // Inherited by the process through the stage's fork.
          if (proc.oomScoreAdj !== undefined) writeOomScoreAdj(`/proc/${child.pid}/oom_score_adj`, proc.oomScoreAdj);
          sendPlanFd(ours, encodePlan(stagePlan(proc, ready, {
            mode: opts.detach ? 'exec-detach' : 'exec',
            controlFd: controlAt,
            pidNsFd: pidNsAt,
            timeNsFd: timeNsAt,
            seccomp,
            attributes,
            cgroupHome: homeAt,
            sessionKeyring: opts.sessionKeyring,
            mountNsFd: mntNsAt,
            cwd: proc.cwd || '/',
          })));
        } finally {
          closeAll();
          seccomp?.release();
        }
      },
      abandon: () => {
        closeAll();
        seccomp?.release();
      },
    };
  } catch (err) {
    closeAll();
    seccomp?.release();
    throw err;
  }
}
