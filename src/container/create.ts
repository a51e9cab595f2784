// `create`: from a bundle to an init blocked on exec.fifo, recorded in <root>/<id>.
// The config goes through the whole pipeline (config-pipeline.ts) before anything is made;
// then every step registers its undo so that a failure leaves nothing behind.
import { addNotifySocket } from './notify-socket';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { libc, O } from '../../bindings';
import { loadBundleConfig } from './config-pipeline';
import { ownCgroupProcs } from './exec-cgroup';
import { AlreadyExistsError, errorFromRecord, TsrunError } from '../errors';
import { debugLog, logsToFile, logWarning } from '../logging';
import { runHooks, runHooksWarnOnly } from '../hooks';
import type { HooksRequest, InitMessage, JoinCgroupRequest, NetDevicesRequest, SetupRequest } from '../protocol/init-protocol';
import { NetDevices } from './net-devices';
import { joinIntelRdt, removeIntelRdt } from './intel-rdt';
import { containerDir, DEFAULT_ROOT, defaultRoot, stateRootRefused } from './paths';
import { EXEC_FIFO } from '../protocol/init-protocol';
import { openNamespace, spawnInit, SpawnedInit } from './spawn-init';
import { ContainerRecord, processRef, RecoveryRecord, saveRecord, saveRecovery } from './state';
import { parentPid, startTime } from '../procfs';
import { checkPidFile, writePidFile } from './pid-file';
import { Console, consoleForCreate } from './console';
import { destroyCgroup, joinCgroupsInBackground, openForWriting, setupCgroup } from './cgroup';
import { Cgroup, CgroupRecord, detectLayout, warmAttachLock, warmAttachLockInBackground } from '../cgroups';
import { sendIdmappedMounts } from './idmap';
import { sendProcMounts } from './joined-pid-ns';
import { socketpair } from '../../bindings/tty';
import { DirectInit, directInitMisfit, startDirectInit } from '../init/direct';
import { sessionKeyringName } from '../protocol/exec-protocol';
import { OCI_VERSION } from '../spec/default-config';

const debug = debugLog('create');

export interface CreateOptions {
  root: string;
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  /** --no-new-keyring: the container keeps our session keyring. */
  noNewKeyring?: boolean;
  preserveFds?: number;
  /** Foreground run: with process.terminal and no console socket, relay the pty ourselves. */
  terminalRelay?: boolean;
  /** --rootless (resolved): cgroup permission errors are not fatal without limits (see cgroup.ts). */
  rootless?: boolean;
}

export interface CreatedContainer {
  record: ContainerRecord;
  dir: string;
  child: ChildProcess;
  /** process.terminal without --console-socket (foreground run): the master to relay. */
  console?: Console;
}

export async function createContainer(opts: CreateOptions): Promise<CreatedContainer> {
  debug(`create ${opts.id} (node up ${Math.round(process.uptime() * 1000)} ms)`);
  const dir = containerDir(opts.root, opts.id);
  if (opts.pidFile) checkPidFile(opts.pidFile);
  // Validated before the state dir, recovery.json or the init are made: only the typed plan is used below.
  const plan = loadBundleConfig(opts.bundle, { id: opts.id, consoleSocket: opts.consoleSocket, terminalRelay: opts.terminalRelay, noPivot: opts.noPivot });
  const { config, bundle, configFile, rootfs, namespaces, timeOffsets, userns, joinedPid, resctrl } = plan;
  debug('config validated');
  makeStateRoot(opts.root);
  try {
    fs.mkdirSync(dir, { mode: 0o711 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`container with id ${opts.id} already exists`);
    throw stateRootRefused(opts.root, err) ?? err;
  }
  let init: SpawnedInit | undefined;
  let direct: DirectInit | undefined;
  let term: Console | undefined;
  let cgroup: Cgroup | undefined;
  let stateDirFd: number | undefined;
  // Our end and the init's end of the idmapped-mounts socket (-1 once closed).
  let mountFds: [number, number] | undefined;
  let mountFdsSent = false;
  let joinedPidFd: number | undefined;
  let forkedPid: number | undefined;
  const netDevices = new NetDevices();
  // Each thing made below is recorded first (a SIGKILL may come at any instant): see RecoveryRecord.
  const recovery: RecoveryRecord = { id: opts.id, creator: processRef(process.pid)!, processes: [] };
  const recordProcess = (p: number | undefined) => {
    const ref = p === undefined ? undefined : processRef(p);
    if (!ref || recovery.processes.some((known) => known.pid === p)) return;
    // The init first: `list` shows the first live one.
    recovery.processes.unshift(ref);
    saveRecovery(dir, recovery);
  };
  try {
    saveRecovery(dir, recovery);
    term = consoleForCreate(config, opts.consoleSocket, !!opts.terminalRelay);
    const misfit = directInitMisfit(config, { rootless: opts.rootless, terminal: !!term, noPivot: opts.noPivot, sendsMounts: plan.sendsMounts });
    let containerPid: number;
    let intelRdt: ReturnType<typeof joinIntelRdt> | undefined;
    if (misfit === undefined) {
      // The container built by our main thread, no Node init (src/init/direct.ts).
      addNotifySocket(config, dir);
      const fifo = path.join(dir, EXEC_FIFO);
      libc().mkfifo(fifo, 0o622);
      fs.chmodSync(fifo, 0o622); // whatever our umask: the process user opens it
      cgroup = setupCgroup(opts.id, config, { rootless: opts.rootless, beforeCreate: (planned) => {
        recovery.cgroup = planned;
        saveRecovery(dir, recovery);
      } });
      const procsFiles = cgroup?.procsFiles() ?? [];
      // The first cgroup.procs write waits for an RCU grace period (see warmAttachLock):
      // libuv's threads, which never leave the host, make it while our main thread builds.
      // Started here, before the main thread goes in: libuv makes its threads on the first
      // request, and a thread made from inside would share the container's namespaces and
      // root (the kernel refuses it anyway while our pid namespace for children differs).
      const warmed = cgroup ? warmAttachLockInBackground(detectLayout()) : Promise.resolve();
      let joined: Promise<void> = warmed;
      const procsFds = openForWriting(procsFiles);
      let stagePid = 0;
      const creating = (pid: number) => ({ ociVersion: config.ociVersion, id: opts.id, status: 'creating' as const, pid, bundle, annotations: config.annotations ?? {} });
      const hooks = config.hooks ?? {};
      try {
        direct = startDirectInit({
          config, rootfs, bundle, stateDir: dir, fifo, preserveFds: preserveFdCount(opts), cgroupDirs: procsFiles.map((file) => path.dirname(file)),
          debug, warn: logWarning, holdLogs: logsToFile(), onSpawned: (stage, control) => {
            stagePid = stage.pid!;
            // Set now: if the set-up fails after this, the cleanup below kills and reaps it.
            init = { child: stage, control, extraFds: [], pid: Promise.resolve(stagePid) };
            joined = joinCgroupsInBackground(procsFds, stagePid);
            joined.catch(() => {}); // awaited below; a failure must not be an unhandled rejection meanwhile
          },
          hostHooks: hooks.prestart?.length || hooks.createRuntime?.length ? () => {
            // As runc: the hooks find the init in the container's cgroups (moved now, whether
            // or not the background writes have landed: the same move twice is a no-op).
            for (const { file, fd } of procsFds) {
              try {
                fs.writeSync(fd, String(stagePid));
              } catch (err) {
                throw new TsrunError(`joining cgroup ${file}: ${(err as Error).message}`);
              }
            }
            runHooks(config, 'prestart', creating(stagePid), bundle);
            runHooks(config, 'createRuntime', creating(stagePid), bundle);
          } : undefined,
          // Spawned from inside: in the container's namespaces, pid 1 as the container sees the init.
          containerHooks: hooks.createContainer?.length ? () => runHooks(config, 'createContainer', { ...creating(1), ociVersion: OCI_VERSION }, rootfs) : undefined,
        });
      } catch (err) {
        await joined.catch(() => {});
        throw err;
      } finally {
        // Closed once the writes are done (they run on the thread pool).
        joined.finally(() => {
          for (const { fd } of procsFds) fs.closeSync(fd);
        }).catch(() => {});
      }
      const pid = stagePid;
      recordProcess(pid);
      const exited = exitPromise(direct.child, false, direct.control);
      await Promise.race([joined, exited]);
      direct.finish({
        sessionKeyring: opts.noNewKeyring ? undefined : sessionKeyringName(opts.id),
        // As the Node init's: the pid as the container sees it.
        hookState: JSON.stringify({ ociVersion: OCI_VERSION, id: opts.id, bundle, annotations: config.annotations ?? {}, status: 'created', pid: 1 }),
      });
      debug('direct init: plan sent');
      const none = () => {};
      await Promise.race([waitReady(init!, { hooks: none, joinCgroup: none, warmCgroupLock: none, moveNetDevices: none, forkedPid: none }), exited]);
      containerPid = pid;
      debug('direct init ready');
    } else {
      debug(`Node init: ${misfit}`);
      // With a user namespace the init is not host root: it reaches the state dir (0700
      // above it) through an fd of ours.
      if (userns) stateDirFd = fs.openSync(dir, O.PATH | O.DIRECTORY | O.CLOEXEC);
      if (joinedPid) joinedPidFd = openNamespace(joinedPid);
      // Idmapped mounts (and the proc of a joined pid namespace) are made by us and sent to
      // the init on a socket of their own.
      if (plan.sendsMounts) mountFds = socketpair();
      const extraFds = [
        ...(term ? [term.childEnd] : []), ...(mountFds ? [mountFds[1]] : []), ...(stateDirFd !== undefined ? [stateDirFd] : []),
        ...(joinedPidFd !== undefined ? [joinedPidFd] : []),
      ];
      init = spawnInit({
        namespaces: joinedPid ? namespaces.filter((ns) => ns !== joinedPid) : namespaces,
        timeOffsets, preserveFds: preserveFdCount(opts), debug: debugEnabledFlag(), extraFds, userns,
      });
      if (joinedPidFd !== undefined) fs.closeSync(joinedPidFd);
      joinedPidFd = undefined;
      recordProcess(init.child.pid);
      term?.dropChildEnd();
      if (stateDirFd !== undefined) fs.closeSync(stateDirFd);
      stateDirFd = undefined;
      if (mountFds) {
        fs.closeSync(mountFds[1]);
        mountFds[1] = -1;
      }
      debug(`init spawned: pid ${init.child.pid} (node up ${Math.round(process.uptime() * 1000)} ms)`);
      // Joining a pid namespace, the init's process exits (0) once tsrun-stage has forked.
      const exited = exitPromise(init.child, !!joinedPid && !opts.terminalRelay);
      // With a user namespace: the maps are written, the init is on its way.
      // A pid read from a helper is only used (recorded, written to cgroup.procs) once it is
      // seen to be our init: a number counted in another pid namespace names a host process.
      const pid = ownInitPid(await Promise.race([init.pid, exited]), init.child.pid!);
      recordProcess(pid);
      addNotifySocket(config, dir);
      // Made and limited before the init joins it (late, once Node has booted: docs/design-notes.md).
      const beforeCreate = (planned: CgroupRecord) => {
        recovery.cgroup = planned;
        saveRecovery(dir, recovery);
      };
      cgroup = setupCgroup(opts.id, config, { rootless: opts.rootless, beforeCreate });
      debug('cgroups ready');
      const rdt = config.linux?.intelRdt;
      intelRdt = rdt && resctrl ? joinIntelRdt(rdt, opts.id, pid, resctrl, (group) => {
        recovery.intelRdt = group;
        saveRecovery(dir, recovery);
      }) : undefined;
      if (mountFds) {
        // Made now that the container's user namespace exists; queued before the request.
        const containerUserns = userns ? (userns.user.path ?? `/proc/${pid}/ns/user`) : undefined;
        await sendIdmappedMounts({ config, configFile, bundle, socket: mountFds[0], containerUserns });
        if (joinedPid) sendProcMounts(config, joinedPid, mountFds[0], containerUserns);
        fs.closeSync(mountFds[0]);
        mountFds = undefined;
        mountFdsSent = true;
        debug('idmapped mounts sent');
      }
      libc().mkfifo(path.join(dir, EXEC_FIFO), 0o622);
      // 0622 whatever our umask (as runc): an init in a user namespace is not its owner.
      fs.chmodSync(path.join(dir, EXEC_FIFO), 0o622);
      const procsFiles = cgroup?.procsFiles() ?? [];
      const request: SetupRequest = {
        config, rootfs, bundle, stateDir: dir, noPivot: !!opts.noPivot, noNewKeyring: opts.noNewKeyring || undefined, preserveFds: preserveFdCount(opts), debug: debugEnabledFlag(),
        consoleFd: term ? init.extraFds[0] : undefined,
        mountFdSocket: mountFds || mountFdsSent ? init.extraFds[term ? 1 : 0] : undefined,
        procMountsSent: joinedPid ? true : undefined,
        stateDirFd: userns ? init.extraFds[(term ? 1 : 0) + (mountFds || mountFdsSent ? 1 : 0)] : undefined,
        joinPidNsFd: joinedPid ? init.extraFds[init.extraFds.length - 1] : undefined,
        // A foreground run waits for its child: tsrun-stage then waits for the process it forks.
        forkedWaits: joinedPid && opts.terminalRelay ? true : undefined,
        // ... out of the container's cgroups once it has forked, as a foreground exec's.
        cgroupHome: joinedPid && opts.terminalRelay && !userns ? ownCgroupProcs(procsFiles) : undefined,
        // Inside a user namespace the init cannot open the cgroup files: it asks us to move it.
        cgroupProcs: userns ? [] : procsFiles,
        cgroupDirs: procsFiles.map((file) => path.dirname(file)),
        parentJoinsCgroup: userns ? true : undefined,
        hookState: { ociVersion: config.ociVersion, id: opts.id, bundle, annotations: config.annotations ?? {} },
        syncHooks: !!(config.hooks?.prestart?.length || config.hooks?.createRuntime?.length),
      };
      init.control.write(`${JSON.stringify(request)}\n`);
      debug('setup request sent');
      // prestart and createRuntime run when the init has its mounts and has not pivoted yet
      // (it waits for our answer), in our namespaces, with the state "creating".
      const moveInit = () => {
        for (const file of procsFiles) {
          try {
            fs.writeFileSync(file, String(pid));
          } catch (err) {
            throw new TsrunError(`joining cgroup ${file}: ${(err as Error).message}`);
          }
        }
      };
      const joinCgroup = () => {
        moveInit();
        init!.control.write(`${JSON.stringify({ type: 'cgroup-joined' })}\n`);
      };
      // The init joins its cgroups last; the kernel's attach lock is made cheap for it now,
      // while it sets up (see warmAttachLock).
      const warmCgroupLock = () => {
        if (cgroup) warmAttachLock(detectLayout());
      };
      const spawned = init;
      // The init's network namespace exists (it asked): the devices go in before anything runs there.
      const moveNetDevices = () => {
        const started = Date.now();
        netDevices.moveAll(config.linux?.netDevices ?? {}, `/proc/${pid}/ns/net`);
        debug(`linux.netDevices moved in ${Date.now() - started} ms`);
        spawned.control.write(`${JSON.stringify({ type: 'net-devices-moved' })}\n`);
      };
      const hooks = () => {
        const state = {
          ociVersion: config.ociVersion, id: opts.id, status: 'creating' as const, pid, bundle, annotations: config.annotations ?? {},
        };
        // As runc: the hooks find the init in the container's cgroups (a device or network
        // hook reads /proc/<pid>/cgroup). Only with these hooks does the init join this early
        // (its later set-up is then charged to the container); its own join is a no-op then.
        // In a user namespace the init asks for the move itself, later.
        if (!userns) moveInit();
        // In the bundle directory, as runc (it works from there during create).
        runHooks(config, 'prestart', state, bundle);
        runHooks(config, 'createRuntime', state, bundle);
        spawned.control.write(`${JSON.stringify({ type: 'hooks-done' })}\n`);
      };
      const forked = await Promise.race([waitReady(init, { hooks, joinCgroup, warmCgroupLock, moveNetDevices, forkedPid: (p) => {
        // Recorded before the forked process may go on (tsrun-stage waits for this answer).
        forkedPid = p;
        recordProcess(p);
        spawned.control.write(`${JSON.stringify({ type: 'pid-recorded' })}\n`);
      } }), exited]);
      // The container's process: the init itself, or the one tsrun-stage forked into the joined pid namespace.
      containerPid = forked ?? pid;

    }

    const record: ContainerRecord = {
      ociVersion: config.ociVersion,
      id: opts.id,
      pid: containerPid,
      bundle,
      rootfs,
      created: new Date().toISOString(),
      owner: os.userInfo().username,
      annotations: config.annotations,
      initStartTime: startTime(containerPid) ?? '',
      config,
      cgroup: cgroup?.record,
      rootless: opts.rootless || undefined,
      noNewKeyring: opts.noNewKeyring || undefined,
      intelRdt,
    };
    saveRecord(dir, record);
    recovery.recorded = true;
    saveRecovery(dir, recovery);
    if (opts.pidFile) writePidFile(opts.pidFile, containerPid);
    netDevices.close();
    // Let go of the init: it must outlive us and be reaped by our caller (a subreaper).
    const { child, control } = init!; // set by the spawn of either path
    (control as unknown as { destroy(): void }).destroy();
    child.unref();
    debug(`created ${opts.id}: init pid ${containerPid}`);
    return { record, dir, child, console: term };
  } catch (err) {
    direct?.abandon();
    if (stateDirFd !== undefined) fs.closeSync(stateDirFd);
    if (joinedPidFd !== undefined) fs.closeSync(joinedPidFd);
    if (forkedPid !== undefined) killQuietly(forkedPid);
    for (const fd of mountFds ?? []) if (fd >= 0) fs.closeSync(fd);
    term?.close();
    // While the namespace still holds them (its fd keeps it alive past the init).
    netDevices.restore();
    netDevices.close();
    await destroyInit(init);
    destroyCgroup(cgroup);
    try {
      removeIntelRdt(recovery.intelRdt);
    } catch (rdtErr) {
      logWarning((rdtErr as Error).message);
    }
    // As runc: a container that failed to be created is destroyed, and destroying runs poststop.
    runHooksWarnOnly(config, 'poststop', { ociVersion: config.ociVersion, id: opts.id, status: 'stopped', pid: 0, bundle, annotations: config.annotations ?? {} }, bundle);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * <root>, 0700. As runc: the default root under $XDG_RUNTIME_DIR gets the sticky bit too
 * (the XDG spec's way of keeping it from being pruned); a user who may not write the root
 * is told how to choose another.
 */
function makeStateRoot(root: string): void {
  try {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw stateRootRefused(root, err) ?? err;
  }
  if (root === defaultRoot() && root !== DEFAULT_ROOT) {
    try {
      fs.chmodSync(root, 0o1700);
    } catch (err) {
      throw new TsrunError(`state root ${root}: ${(err as Error).message}: check the permissions of $XDG_RUNTIME_DIR`);
    }
  }
}

let debugFlag = false;
/** Set by the CLI from --debug: the init then sends its debug lines back to us. */
export function setCreateDebug(on: boolean): void {
  debugFlag = on;
}
function debugEnabledFlag(): boolean {
  return debugFlag;
}

/** --preserve-fds N, plus LISTEN_FDS when the socket-activation variables are for us. */
function preserveFdCount(opts: CreateOptions): number {
  let n = opts.preserveFds ?? 0;
  const listen = Number(process.env.LISTEN_FDS);
  if (Number.isInteger(listen) && listen > 0 && Number(process.env.LISTEN_PID) === process.pid) n = Math.max(n, listen);
  return n;
}

/** Rejects when the init dies before it is ready (`forks`: its clean exit is expected). */
function exitPromise(child: ChildProcess, forks: boolean, control?: NodeJS.ReadableStream): Promise<never> {
  // Its last words (an error line) may still be unread on the control socket when the exit
  // is seen: they go first, read up to the socket's end.
  let ended = false;
  control?.once('end', () => (ended = true));
  const drained = () => new Promise<void>((resolve) => {
    if (!control || ended) return resolve();
    control.once('end', resolve);
    control.once('close', resolve);
    setTimeout(resolve, 200).unref();
  });
  return new Promise((_, reject) => {
    child.once('error', (err) => reject(new TsrunError(`starting the container init: ${err.message}`)));
    child.once('exit', async (code, signal) => {
      if (forks && code === 0) return;
      await drained();
      // tsrun-stage loads a linux.seccomp filter before the user change when noNewPrivileges is
      // false; waiting for a process it forked, it exits 128+31 when SIGSYS killed that.
      const seccompKill = signal === 'SIGSYS' || code === 128 + 31;
      const why = seccompKill ? 'killed by seccomp (SIGSYS): linux.seccomp kills a system call tsrun needs before the container process starts' : signal ? `signal ${signal}` : `status ${code}`;
      reject(new TsrunError(`container init exited before it was ready (${why})`));
    });
  });
}

/**
 * The init's pid in our pid namespace: `reported` when it is the process we spawned or that
 * helper's child (tsrun-userns), else the helper's one child as /proc lists it (a helper
 * started inside a joined pid namespace counts its child's pid there).
 */
function ownInitPid(reported: number, spawned: number): number {
  if (reported === spawned || parentPid(reported) === spawned) return reported;
  let children: string[] = [];
  try {
    children = fs.readFileSync(`/proc/${spawned}/task/${spawned}/children`, 'utf8').trim().split(' ').filter(Boolean);
  } catch {
    // gone, or not ours to read: refused below
  }
  if (children.length === 1 && parentPid(Number(children[0])) === spawned) return Number(children[0]);
  throw new TsrunError(`the container init's pid ${reported} (reported by tsrun-userns) is not a child of tsrun-userns (pid ${spawned})`);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}


interface InitRequests {
  hooks: () => void;
  joinCgroup: () => void;
  warmCgroupLock: () => void;
  /** The init made or joined its network namespace: move linux.netDevices in. */
  moveNetDevices: () => void;
  /** tsrun-stage forked the container's process (a joined pid namespace): its host pid. */
  forkedPid: (pid: number) => void;
}

/** Resolves at `ready`, with the forked process's pid when tsrun-stage forked one. */
function waitReady(init: SpawnedInit, { hooks, joinCgroup, warmCgroupLock, moveNetDevices, forkedPid }: InitRequests): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let forked: number | undefined;
    init.control.setEncoding('utf8');
    init.control.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const message = JSON.parse(buffered.slice(0, nl)) as InitMessage | HooksRequest | JoinCgroupRequest | NetDevicesRequest;
        buffered = buffered.slice(nl + 1);
        if (message.type === 'hooks') {
          try {
            hooks();
          } catch (err) {
            reject(err);
          }
        } else if (message.type === 'join-cgroup') {
          try {
            joinCgroup();
          } catch (err) {
            reject(err);
          }
        } else if (message.type === 'net-devices') {
          try {
            moveNetDevices();
          } catch (err) {
            reject(err);
          }
        } else if (message.type === 'setup-started') warmCgroupLock();
        else if (message.type === 'pid') forkedPid((forked = message.pid));
        else if (message.type === 'ready') resolve(forked);
        else if (message.type === 'error') reject(errorFromRecord(message, 'unable to start container process: '));
        else if (message.type === 'warning') logWarning(message.msg);
        else if (message.type === 'debug') debugLog('init')(message.msg);
      }
    });
    init.control.on('error', () => {});
    // Every copy of the socket closed without `ready`: when our child still runs, the process
    // tsrun-stage forked died (otherwise the child's exit says more: see exitPromise).
    init.control.on('end', () => {
      if (init.child.exitCode !== null && init.child.signalCode === null) reject(new TsrunError('container init exited before it was ready'));
    });
  });
}

async function destroyInit(init: SpawnedInit | undefined): Promise<void> {
  if (!init?.child.pid) return;
  const { child } = init;
  (init.control as unknown as { destroy(): void }).destroy();
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  // With a user namespace the child is the waiter: kill the init too (the waiter follows).
  const pid = await Promise.race([init.pid, new Promise<undefined>((r) => setImmediate(() => r(undefined)))]).catch(() => undefined);
  if (pid !== undefined && pid !== child.pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  child.kill('SIGKILL');
  await gone;
}
