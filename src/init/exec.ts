// The exec-init: spawned by `tsrun exec` in tsrun's own pid namespace, where the container
// cannot see it, it joins the container's cgroups and its other namespaces itself, on its
// main thread, sets up the process (terminal, cwd, rlimits, no_new_privs) and execs
// tsrun-stage in place (stage.ts): one thread, holding nothing of the host, which joins the
// container's pid namespace for its child and forks; only that child is ever visible in the
// container, and it becomes the user and execs the process.
//
// As with the container init, everything is loaded before the first namespace change
// (one bundled file; libseccomp is opened from the host before joining the mount ns), and
// nothing from the container's filesystem is executed before the user switch: the only
// container file run is the final execve.
import { joinSessionKeyring } from './keyring';
import * as fs from 'node:fs';
import { CLONE, libc, O } from '../../bindings';
import type { ExecRequest } from '../protocol/exec-protocol';
import type { InitMessage } from '../protocol/init-protocol';
import { errorRecord, StateError, TsrunError } from '../errors';
import { buildSeccompCached } from '../security/seccomp-cache';
import { applyAttributes, applyInitialAffinity, prepareAttributes } from './attributes';
import { handOverToStage, keepFds, openCgroupHome, prepareProcess, setNoNewPrivileges } from './process';
import { openStage } from './stage';
import { fixStdioOwnership, setupTerminal } from './terminal';
import { bootInit } from './boot';
import { startTime } from '../procfs';

/**
 * Joined in this order; mount last, since it changes how every path resolves (even /proc).
 * pid and time are joined by tsrun-stage, for its child only (FOR_CHILD).
 */
const FOR_CHILD = 0;
const JOINS: Array<[string, number]> = [
  ['pid', FOR_CHILD],
  ['time', FOR_CHILD],
  ['ipc', CLONE.NEWIPC],
  ['uts', CLONE.NEWUTS],
  ['net', CLONE.NEWNET],
  ['cgroup', CLONE.NEWCGROUP],
  ['mnt', CLONE.NEWNS],
];

function main(): void {
  const sys = libc();
  // The channel speaks line-delimited JSON; the exec-init's request is an ExecRequest.
  const { channel, request } = bootInit<ExecRequest>();
  const send = (message: InitMessage) => channel.send(message);
  const debug = request.debug ? (msg: string) => send({ type: 'debug', msg }) : () => {};
  const warn = (msg: string) => send({ type: 'warning', msg });
  try {
    const proc = request.process;
    const stage = openStage();
    const seccomp = buildSeccompCached(request.seccomp, debug, request.listenerState);
    // oomScoreAdj, scheduler, ioPriority, CPU affinity, LSM labels: checked on the host's /sys.
    const attributes = prepareAttributes(proc, undefined);
    applyInitialAffinity(attributes);
    // Opened before we leave them (host paths); tsrun-stage writes itself back after its fork.
    const cgroupHome = openCgroupHome(request.cgroupHome);
    joinCgroups(request.cgroupProcs, debug);
    // Before the mount namespace: the container's /proc does not show us (we are not in its
    // pid namespace). They are inherited by the process.
    applyAttributes(proc, attributes);
    const forChild = joinNamespaces(request, debug);
    // runc: an exec'd process joins the container's session keyring (by its name).
    if (request.sessionKeyring) joinSessionKeyring(request.sessionKeyring, warn);
    const terminal = request.consoleFd !== undefined;
    if (request.consoleFd !== undefined) setupTerminal(request.consoleFd, proc.consoleSize, debug, false);
    const prepared = prepareProcess(proc, warn);
    fixStdioOwnership(proc.user?.uid ?? 0, terminal);
    setNoNewPrivileges(proc);
    keepFds(request.preserveFds);
    // tsrun-stage sends {"type":"pid"} once it has forked; the socket is close-on-exec, so
    // the parent sees EOF once execve succeeded, or an error line if the last steps failed.
    send({ type: 'ready' });
    handOverToStage(stage, proc, prepared, {
      mode: request.detach ? 'exec-detach' : 'exec',
      controlFd: channel.fd,
      pidNsFd: forChild.pid,
      timeNsFd: forChild.time,
      seccomp,
      attributes,
      terminal,
      cgroupHome,
    });
  } catch (err) {
    try {
      send({ type: 'error', ...errorRecord(err) });
    } catch {
      fs.writeSync(2, `tsrun: exec failed: ${(err as Error).message}\n`);
    }
    process.exit(1);
  }
}

function joinCgroups(files: string[], debug: (msg: string) => void): void {
  for (const file of files) {
    debug(`join cgroup ${file}`);
    try {
      fs.writeFileSync(file, String(process.pid));
    } catch (err) {
      throw new TsrunError(`joining the container's cgroup: write ${file}: ${(err as Error).message}`);
    }
  }
}

/** Joins the init's namespaces but pid and time, whose fds it returns (for tsrun-stage). */
function joinNamespaces(request: ExecRequest, debug: (msg: string) => void): { pid?: number; time?: number } {
  const sys = libc();
  const opened: Array<{ name: string; flag: number; fd: number }> = [];
  const forChild: { pid?: number; time?: number } = {};
  let chrootTo: number | undefined;
  try {
    // Every fd is opened before the first join: after the mount join, /proc is the container's.
    for (const [name, flag] of JOINS) {
      const target = `/proc/${request.initPid}/ns/${name}`;
      let link: string;
      try {
        link = fs.readlinkSync(target);
      } catch (err) {
        if (name === 'time' && (err as NodeJS.ErrnoException).code === 'ENOENT') continue; // kernel without time namespaces
        throw new TsrunError(`container init ${request.initPid} is gone (cannot read ${target})`);
      }
      // A container without a mount namespace is only chrooted: we take the init's root too
      // (joining its mount namespace alone would leave us at that namespace's "/").
      if (flag === CLONE.NEWNS && fs.readlinkSync(`/proc/${request.initPid}/root`) !== '/') {
        chrootTo = fs.openSync(`/proc/${request.initPid}/root`, O.PATH | O.DIRECTORY | O.CLOEXEC);
      }
      if (link === fs.readlinkSync(`/proc/self/ns/${name}`)) continue;
      opened.push({ name, flag, fd: fs.openSync(target, O.RDONLY | O.CLOEXEC) });
    }
    // The fds now pin the namespaces: make sure they were the init's and not a recycled pid's.
    if (startTime(request.initPid) !== request.initStartTime) throw new StateError('cannot exec in a stopped container');
    for (const { name, flag, fd } of opened) {
      if (flag === FOR_CHILD) {
        forChild[name as 'pid' | 'time'] = fd;
        continue;
      }
      debug(`join ${name} namespace of pid ${request.initPid}`);
      if (flag === CLONE.NEWNS) sys.unshare(CLONE.FS);
      try {
        sys.setns(fd, flag);
      } catch (err) {
        throw new TsrunError(`joining the container's ${name} namespace: ${(err as Error).message}`);
      }
    }
    if (chrootTo !== undefined) {
      debug(`chroot to the root of pid ${request.initPid}`);
      sys.fchdir(chrootTo);
      sys.chroot('.');
      sys.chdir('/');
    }
    return forChild;
  } finally {
    for (const { flag, fd } of opened) if (flag !== FOR_CHILD) fs.closeSync(fd);
    if (chrootTo !== undefined) fs.closeSync(chrootTo);
  }
}

main();
