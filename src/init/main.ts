// The container init: spawned by `tsrun create` (already pid 1 of the container's pid
// namespace when it has one), it builds the container from inside on its main thread, then
// execs tsrun-stage in place (stage.ts), which becomes the user, tells the parent it is
// ready, waits on exec.fifo for `start` and execs the user's process.
//
// Everything it needs is in this one bundled file and loaded before the first namespace
// change: after pivot_root a require() would resolve inside the container.
import * as fs from 'node:fs';
import { libc, O } from '../../bindings';
import { runHooks } from '../hooks';
import { CgroupJoined, EXEC_FIFO, HooksDone, JoinCgroupRequest, NetDevicesMoved, NetDevicesRequest, SetupRequest } from '../protocol/init-protocol';
import { applyAttributes, applyInitialAffinity, prepareAttributes } from './attributes';
import { errorRecord } from '../errors';
import { ParentChannel } from './channel';
import { enterCgroup, enterNamespaces } from './namespaces';
import { handOverToStage, keepFds, openCgroupHome, prepareProcess, setNoNewPrivileges } from './process';
import { openStage } from './stage';
import { setupRootfs } from './rootfs';
import { applyMemoryPolicy } from './memory-policy';
import { fixStdioOwnership, setupTerminal } from './terminal';
import { bootInit } from './boot';
import { buildSeccompCached } from '../security/seccomp-cache';
import { OCI_VERSION } from '../spec/default-config';
import { makeSessionKeyring } from './keyring';
import { writeSysctls } from './sysctl';
import { sessionKeyringName } from '../protocol/exec-protocol';

function main(): void {
  const sys = libc();
  const { channel, request } = bootInit<SetupRequest>();
  const debug = request.debug ? (msg: string) => channel.send({ type: 'debug', msg }) : () => {};
  const warn = (msg: string) => channel.send({ type: 'warning', msg });
  debug(`setup request received (init node up ${Math.round(process.uptime() * 1000)} ms)`);
  channel.send({ type: 'setup-started' });
  try {
    const { config } = request;
    const proc = config.process!;
    const stage = openStage();
    // The fifo is reached through a directory fd: after pivot_root its path no longer exists.
    const stateDirFd = request.stateDirFd ?? fs.openSync(request.stateDir, O.PATH | O.DIRECTORY | O.CLOEXEC);

    // Built and checked before `ready` (bad profiles fail `create`), and before any
    // namespace change: it opens libseccomp.so.2 from the host. Loaded just before execve.
    // With NOTIFY rules it also connects to listenerPath (a host path) now.
    const seccomp = buildSeccompCached(config.linux?.seccomp, debug, { ...hookState(request, 'creating'), pid: undefined });
    // Also before any namespace change: the LSM checks read the host's /sys.
    const attributes = prepareAttributes(proc, config.linux);
    applyInitialAffinity(attributes);
    if (seccomp?.unknownSyscalls.length) debug(`seccomp: unknown syscalls skipped: ${seccomp.unknownSyscalls.join(' ')}`);
    // The cgroup.procs files are opened now (host paths), written at the very end.
    const cgroupHome = openCgroupHome(request.cgroupHome);
    const join = request.parentJoinsCgroup ? () => askParentToJoinCgroup(channel) : joinCgroups(request.cgroupProcs ?? []);
    enterNamespaces(config.linux?.namespaces ?? [], debug, join);
    // Before the sysctls, which may name a moved device.
    if (Object.keys(config.linux?.netDevices ?? {}).length > 0) askParentToMoveNetDevices(channel);
    const userns = (config.linux?.namespaces ?? []).some((ns) => ns.type === 'user');
    if (!request.noNewKeyring) makeSessionKeyring(sessionKeyringName(request.hookState?.id ?? ''), userns, warn);
    if (config.hostname !== undefined) sys.sethostname(config.hostname);
    if (config.domainname !== undefined) sys.setdomainname(config.domainname);
    writeSysctls(config.linux?.sysctl ?? {});
    const beforePivot = () => containerHooks(channel, request);
    setupRootfs({
      config, rootfs: request.rootfs, bundle: request.bundle, noPivot: request.noPivot, debug, beforePivot, cgroupDirs: request.cgroupDirs,
      mountFdSocket: request.mountFdSocket, procMountsSent: request.procMountsSent,
    });
    // Joining a pid namespace, tsrun-stage forks the process, which then takes the terminal.
    const forks = request.joinPidNsFd !== undefined;
    if (request.consoleFd !== undefined) setupTerminal(request.consoleFd, proc.consoleSize, debug, !forks);
    const prepared = prepareProcess(proc, warn);
    fixStdioOwnership(proc.user?.uid ?? 0, request.consoleFd !== undefined);
    debug('process prepared');
    // Joined this late: Node's ~40 MB and the set-up work stay charged where they were. The
    // scheduler and other attributes come after, so the cgroup's limits (cpu.rt_runtime_us)
    // judge them.
    enterCgroup(config.linux?.namespaces ?? [], debug, join);
    applyAttributes(proc, attributes);
    setNoNewPrivileges(proc);
    keepFds(request.preserveFds);

    // tsrun-stage (one thread, nothing of the host but this O_PATH fd of exec.fifo) becomes
    // the user, says `ready`, waits for `start` on the fifo, runs startContainer hooks, execs.
    const fifo = sys.openat(stateDirFd, EXEC_FIFO, O.PATH | O.CLOEXEC, 0);
    fs.closeSync(stateDirFd);
    applyMemoryPolicy(config.linux?.memoryPolicy); // main thread, right before the exec
    handOverToStage(stage, proc, prepared, {
      mode: forks ? (request.forkedWaits ? 'init-fork-wait' : 'init-fork') : 'init',
      controlFd: channel.fd,
      fifoFd: fifo,
      pidNsFd: request.joinPidNsFd,
      terminal: forks && request.consoleFd !== undefined,
      seccomp,
      attributes,
      hooks: config.hooks?.startContainer,
      hookState: JSON.stringify(hookState(request, 'created')),
      cgroupHome,
    });
  } catch (err) {
    const msg = (err as Error).message;
    try {
      channel.send({ type: 'error', ...errorRecord(err) });
    } catch {
      // After `ready` the parent is gone: the container's stderr is all we have.
      fs.writeSync(2, `tsrun: ${msg}\n`);
    }
    process.exit(1);
  }
}

/** The state hooks run from the init get: pid as the container sees it (runc's way). */
function hookState(request: SetupRequest, status: 'creating' | 'created') {
  const base = request.hookState ?? { ociVersion: request.config.ociVersion, id: '', bundle: request.bundle };
  return { ...base, ociVersion: OCI_VERSION, annotations: base.annotations ?? {}, status, pid: process.pid };
}

/**
 * Mounts done, pivot_root next: the parent runs prestart and createRuntime (in the runtime
 * namespace), then we run createContainer: paths resolve on the host (our root is still
 * the host's), the hook runs in the container's namespaces (spawned from this thread).
 */
function containerHooks(channel: ParentChannel, request: SetupRequest): void {
  if (request.syncHooks) {
    channel.send({ type: 'hooks' });
    let answer: HooksDone | undefined;
    try {
      answer = channel.readMessage() as HooksDone;
    } catch {
      // The runtime went away (a prestart/createRuntime hook failed): it reports the error.
      process.exit(1);
    }
    if (answer?.type !== 'hooks-done') throw new Error('unexpected answer from the runtime while it ran the hooks');
  }
  runHooks(request.config, 'createContainer', hookState(request, 'creating'), request.rootfs);
}

/** In a user namespace: the parent (host root, or the cgroup's owner) writes our pid. */
function askParentToJoinCgroup(channel: ParentChannel): void {
  askParent(channel, { type: 'join-cgroup' }, 'cgroup-joined', 'joined the cgroup');
}

/** Opened now, while paths are the host's; written (our own pid, "0") when called. */
function joinCgroups(files: string[]): () => void {
  const fds = files.map((file) => {
    try {
      return { file, fd: fs.openSync(file, O.WRONLY | O.CLOEXEC) };
    } catch (err) {
      throw new Error(`joining cgroup ${file}: ${(err as Error).message}`);
    }
  });
  return () => {
    for (const { file, fd } of fds) {
      try {
        fs.writeSync(fd, '0');
      } catch (err) {
        throw new Error(`joining cgroup ${file}: ${(err as Error).message}`);
      } finally {
        fs.closeSync(fd);
      }
    }
  };
}

main();

/** linux.netDevices: our network namespace exists; the parent (host root) moves the devices in. */
function askParentToMoveNetDevices(channel: ParentChannel): void {
  askParent(channel, { type: 'net-devices' }, 'net-devices-moved', 'moved linux.netDevices');
}

/** A request the parent answers; when it went away instead, it reports why. */
function askParent(channel: ParentChannel, request: JoinCgroupRequest | NetDevicesRequest, answer: (CgroupJoined | NetDevicesMoved)['type'], doing: string): void {
  channel.send(request);
  let reply: { type?: string } | undefined;
  try {
    reply = channel.readMessage() as { type?: string };
  } catch {
    process.exit(1);
  }
  if (reply?.type !== answer) throw new Error(`unexpected answer from the runtime while it ${doing}`);
}
