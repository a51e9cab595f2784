// `exec`: run another process in a running container. The process is described by a
// process.json (--process, as engines send) or built from the container's config process
// plus runc's inline flags. Usually our main thread prepares it in the container's
// namespaces and spawns tsrun-stage itself (src/init/direct-exec.ts); with a terminal, a
// user namespace or the rarer fields we spawn the exec-init (dist/exec-init.js) in our own
// pid namespace, where the container cannot see it, which joins the other namespaces and
// hands over to tsrun-stage. Either way the stage forks the process into the container's
// pid namespace; the control socket tells us its host pid, then whether execve happened
// (EOF) or what went wrong (an error line).
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { constants } from 'node:os';
import * as path from 'node:path';
import { errorFromRecord, ErrorRecord, StateError, TsrunError } from '../errors';
import { debugLog, logsToFile, logWarning } from '../logging';
import type { LinuxCapabilities, Process } from '../spec/types';
import { validateProcess } from '../spec/validate';
import { ExecCgroups, execCgroupProcs } from './exec-cgroup';
import type { ExecRequest } from '../protocol/exec-protocol';
import { EXEC_INIT_SCRIPT_NAME, sessionKeyringName } from '../protocol/exec-protocol';
import type { InitMessage } from '../protocol/init-protocol';
import { spawnInit, SpawnedInit } from './spawn-init';
import { requireTrampoline } from './userns';
import { ContainerRecord, loadContainer, statusOf } from './state';
import { loadProcessFile } from './config-pipeline';
import { checkPidFile, writePidFile } from './pid-file';
import { getWinsize } from '../../bindings/tty';
import { ConsoleRelay, openConsole } from './console';
import { DirectExec, directExecMisfit, startDirectExec } from '../init/direct-exec';
import { joinCgroupsInBackground, openForWriting } from './cgroup';
import { detectLayout, isPermissionError, warmAttachLockInBackground } from '../cgroups';

const debug = debugLog('exec');

export interface ExecOptions {
  root: string;
  id: string;
  /** --process FILE ('-' for stdin). */
  processFile?: string;
  /** Inline form: the command and its arguments. */
  args: string[];
  tty: boolean;
  consoleSocket?: string;
  cwd?: string;
  env: string[];
  /** uid[:gid] */
  user?: string;
  additionalGids: number[];
  caps: string[];
  noNewPrivs: boolean;
  apparmor?: string;
  processLabel?: string;
  preserveFds: number;
  detach: boolean;
  pidFile?: string;
  ignorePaused: boolean;
  cgroup?: string;
  debug?: boolean;
  /** --rootless (resolved): a cgroup we may not write to is skipped, as runc does. */
  rootless?: boolean;
}

/**
 * The cgroup.procs files the exec'd process joins. A container created rootless without a
 * writable cgroup has none: its processes stay in the cgroup of whoever started them.
 */
function execCgroupsOf(record: ContainerRecord, sub: string | undefined): ExecCgroups {
  if (record.cgroup || record.rootless !== true) return execCgroupProcs(record.pid, sub);
  if (sub) throw new TsrunError(`--cgroup ${sub}: container ${record.id} has no cgroup (created rootless without a writable cgroup)`);
  return { join: [], home: [] };
}


/** Run the exec; in the foreground, resolves with the exit status tsrun should exit with. */
export async function execInContainer(opts: ExecOptions): Promise<number> {
  if (opts.pidFile) checkPidFile(opts.pidFile);
  const container = loadContainer(opts.root, opts.id);
  const status = statusOf(container);
  if (status === 'stopped') throw new StateError('cannot exec in a stopped container');
  if (status === 'creating' || !container.record) throw new StateError(`cannot exec in a container that is being created`);
  if (status === 'paused' && !opts.ignorePaused) throw new StateError('cannot exec in a paused container (use --ignore-paused to override)');
  const record = container.record;
  const proc = opts.processFile !== undefined ? loadProcessFile(opts.processFile) : inlineProcess(record, opts);
  const terminal = !!proc.terminal;
  if (terminal && opts.detach && !opts.consoleSocket) {
    throw new TsrunError('cannot allocate tty if tsrun will detach without setting console socket');
  }
  if (!terminal && opts.consoleSocket) {
    throw new TsrunError('cannot use console socket if tsrun will not detach or allocate tty');
  }
  // Relayed to our own terminal: start with its size (resizes follow through SIGWINCH).
  if (terminal && !opts.consoleSocket) proc.consoleSize ??= ownTerminalSize();
  const preserveFds = preserveFdCount(opts.preserveFds);
  const { join: cgroupProcs, home: cgroupHome } = execCgroupsOf(record, opts.cgroup);

  const userns = (record.config.linux?.namespaces ?? []).some((ns) => ns.type === 'user');
  const misfit = directExecMisfit(record.pid, proc, { seccomp: record.config.linux?.seccomp, userns });
  if (misfit !== undefined) debug(`exec-init: ${misfit}`);
  const { init, exited, pid, term } = misfit === undefined
    ? await execDirect(record, proc, opts, preserveFds, cgroupProcs, cgroupHome)
    : await execWithInit(record, proc, opts, preserveFds, cgroupProcs, cgroupHome, terminal);
  const { child } = init;
  debug(`exec'd pid ${pid} in ${opts.id}`);
  if (opts.pidFile) writePidFile(opts.pidFile, pid);
  if (opts.detach) {
    // Let go of it: our caller (a subreaper) reaps it.
    (init.control as unknown as { destroy(): void }).destroy();
    child.unref();
    return 0;
  }
  // Foreground: relay the terminal if we hold the master, forward signals, wait.
  let relay: ConsoleRelay | undefined;
  if (term?.local) relay = term.startRelay();
  const forwarded = forwardSignals(pid);
  const result = await exited;
  await relay?.finish();
  forwarded();
  return result.signal ? 128 + constants.signals[result.signal] : (result.code ?? 0);
}

interface ExecStarted {
  init: SpawnedInit;
  /** The stage's (or exec-init's) exit: a foreground exec's status. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The process's host pid. */
  pid: number;
  term?: ReturnType<typeof openConsole>;
}

/** Through the Node exec-init (terminals, user namespaces and the rarer fields). */
async function execWithInit(
  record: ContainerRecord, proc: Process, opts: ExecOptions, preserveFds: number, cgroupProcs: string[], cgroupHome: string[], terminal: boolean,
): Promise<ExecStarted> {
  const term = terminal ? openConsole(opts.consoleSocket) : undefined;
  let init: SpawnedInit;
  // A container with a user namespace: the exec-init joins it through tsrun-userns first
  // (and then is not allowed to open cgroup files: we move it ourselves).
  const userFd = ownUserNamespace(record);
  try {
    init = spawnInit({
      joinUserns: userFd !== undefined ? { user: userFd } : undefined,
      // pid and time: joined by tsrun-stage for the process only (never for the exec-init).
      namespaces: [],
      preserveFds,
      debug: !!opts.debug,
      script: path.join(__dirname, EXEC_INIT_SCRIPT_NAME),
      extraFds: term ? [term.childEnd] : [],
      detach: opts.detach,
    });
  } catch (err) {
    term?.close();
    throw err;
  } finally {
    if (userFd !== undefined) fs.closeSync(userFd);
  }
  const { child } = init;
  const exited = exitPromise(child);
  // The exec-init: cgroups are joined before it forks the process.
  let execInitPid: number;
  try {
    execInitPid = await init.pid;
  } catch (err) {
    term?.close();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw err;
  }
  if (userFd !== undefined) {
    for (const file of cgroupProcs) {
      try {
        fs.writeFileSync(file, String(execInitPid));
      } catch (err) {
        // As runc (setnsProcess): a rootless exec that may not move into a cgroup stays where it is.
        if (opts.rootless && isPermissionError(err)) {
          debug(`rootless: not joining ${file}: ${(err as Error).message}`);
          continue;
        }
        init.child.kill('SIGKILL');
        throw new TsrunError(`joining the container's cgroup: write ${file}: ${(err as Error).message}`);
      }
    }
  }
  // The child has its own copy of the console socket now.
  if (term) term.dropChildEnd();
  const request: ExecRequest = {
    process: proc,
    initPid: record.pid,
    initStartTime: record.initStartTime,
    seccomp: record.config.linux?.seccomp,
    listenerState: record.config.linux?.seccomp?.listenerPath ? {
      ociVersion: record.ociVersion, id: record.id, status: 'running', pid: record.pid, bundle: record.bundle,
      annotations: record.annotations ?? record.config.annotations ?? {},
    } : undefined,
    cgroupProcs: userFd !== undefined ? [] : cgroupProcs,
    // In a user namespace the stage could not write them (the same as in runc: rootless
    // exec parents stay where they are).
    cgroupHome: userFd !== undefined || opts.detach ? [] : cgroupHome,
    preserveFds,
    consoleFd: term ? init.extraFds[0] : undefined,
    detach: opts.detach,
    debug: !!opts.debug,
    sessionKeyring: record.noNewKeyring ? undefined : sessionKeyringName(record.id),
  };
  init.control.write(`${JSON.stringify(request)}\n`);
  let pid: number;
  try {
    pid = await waitExec(init);
  } catch (err) {
    term?.close();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited.catch(() => {});
    throw err;
  }
  return { init, exited, pid, term };
}

/** Without Node in between (src/init/direct-exec.ts). */
async function execDirect(
  record: ContainerRecord, proc: Process, opts: ExecOptions, preserveFds: number, cgroupProcs: string[], cgroupHome: string[],
): Promise<ExecStarted> {
  // The thread pool is started before our main thread goes in (see create's direct init);
  // the first write to cgroup.procs waits for an RCU grace period meanwhile.
  const warmed = cgroupProcs.length ? warmAttachLockInBackground(detectLayout()) : Promise.resolve();
  const procsFds = openForWriting(cgroupProcs);
  let direct: DirectExec;
  let stage: ChildProcess | undefined;
  try {
    direct = startDirectExec({
      initPid: record.pid, initStartTime: record.initStartTime, process: proc, seccomp: record.config.linux?.seccomp, preserveFds,
      detach: opts.detach, cgroupHome: opts.detach ? [] : cgroupHome,
      sessionKeyring: record.noNewKeyring ? undefined : sessionKeyringName(record.id),
      debug, warn: logWarning, holdLogs: logsToFile(), onSpawned: (spawned) => {
        stage = spawned;
      },
    });
  } catch (err) {
    for (const { fd } of procsFds) fs.closeSync(fd);
    // Reaped here, not left to the host's init as a zombie.
    if (stage) await killAndReap(stage);
    throw err;
  }
  const init: SpawnedInit = { child: direct.child, control: direct.control, extraFds: [], pid: Promise.resolve(direct.child.pid!) };
  const exited = exitPromise(direct.child);
  try {
    await warmed;
    await joinCgroupsInBackground(procsFds, direct.child.pid!);
    direct.finish();
  } catch (err) {
    direct.abandon();
    await killAndReap(direct.child);
    throw err;
  } finally {
    for (const { fd } of procsFds) fs.closeSync(fd);
  }
  try {
    return { init, exited, pid: await waitExec(init) };
  } catch (err) {
    await killAndReap(direct.child);
    throw err;
  }
}

/** SIGKILL (unless it has exited) and wait until Node has reaped it. */
async function killAndReap(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await gone;
}

/** The size of the terminal on our stdout/stdin/stderr, if any (and not 0x0). */
export function ownTerminalSize(): { height: number; width: number } | undefined {
  for (const fd of [1, 0, 2]) {
    const ws = getWinsize(fd);
    if (ws && ws.rows > 0 && ws.cols > 0) return { height: ws.rows, width: ws.cols };
  }
  return undefined;
}

/** Signals a foreground exec passes on to the process, as runc does. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGCONT'];

function forwardSignals(pid: number): () => void {
  const handlers = FORWARDED.map((sig) => {
    const handler = () => {
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    };
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  return () => {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  };
}

/** runc's getProcess: the container's process with the inline flags applied. */
export function inlineProcess(record: ContainerRecord, opts: ExecOptions): Process {
  if (opts.args.length === 0) throw new TsrunError('exec: the command to run is missing (tsrun exec [options] ID COMMAND [ARGS...])');
  const base = record.config.process;
  const p: Process = base ? structuredClone(base) : { user: { uid: 0, gid: 0 }, args: [], cwd: '/' };
  p.args = [...opts.args];
  p.terminal = opts.tty;
  delete p.consoleSize;
  if (opts.cwd !== undefined) p.cwd = opts.cwd;
  if (opts.apparmor !== undefined) p.apparmorProfile = opts.apparmor;
  if (opts.processLabel !== undefined) p.selinuxLabel = opts.processLabel;
  p.env = mergeEnv(p.env ?? [], opts.env);
  if (opts.noNewPrivs) p.noNewPrivileges = true;
  if (opts.user !== undefined) {
    const m = /^(\d+)(?::(\d+))?$/.exec(opts.user);
    if (!m) throw new TsrunError(`--user ${JSON.stringify(opts.user)}: expected uid[:gid] (numbers)`);
    p.user = { ...p.user, uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : (p.user?.gid ?? 0) };
    if (m[2] === undefined) p.user.gid = p.user.gid ?? 0;
  }
  if (opts.additionalGids.length > 0) p.user = { ...p.user, additionalGids: [...(p.user.additionalGids ?? []), ...opts.additionalGids] };
  if (opts.caps.length > 0) {
    const caps: LinuxCapabilities = { ...(p.capabilities ?? {}) };
    for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...(caps[set] ?? []), ...opts.caps];
    // Ambient capabilities need inheritable ones: only when the config has an inheritable set.
    if (caps.inheritable) caps.ambient = [...(caps.ambient ?? []), ...opts.caps];
    p.capabilities = caps;
  }
  return validateProcess(p, '<exec flags>');
}

/** Later entries win; the order of first appearance is kept. */
function mergeEnv(base: string[], extra: string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...extra]) {
    const eq = e.indexOf('=');
    const key = eq < 0 ? e : e.slice(0, eq);
    out.set(key, e);
  }
  return [...out.values()];
}

/** An fd on the container's user namespace when it is not ours. */
function ownUserNamespace(record: ContainerRecord): number | undefined {
  if (!(record.config.linux?.namespaces ?? []).some((ns) => ns.type === 'user')) return undefined;
  const target = `/proc/${record.pid}/ns/user`;
  if (fs.readlinkSync(target) === fs.readlinkSync('/proc/self/ns/user')) return undefined;
  requireTrampoline();
  return fs.openSync(target, 'r');
}

/** --preserve-fds N, plus LISTEN_FDS when the socket-activation variables are for us. */
function preserveFdCount(n: number): number {
  const listen = Number(process.env.LISTEN_FDS);
  if (Number.isInteger(listen) && listen > 0 && Number(process.env.LISTEN_PID) === process.pid) n = Math.max(n, listen);
  return n;
}

function exitPromise(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new TsrunError(`exec failed: starting the exec process: ${err.message}`)));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Resolves with the process's host pid at EOF on the control socket after `pid` (execve
 * done: the socket was close-on-exec), rejects on an error line or an EOF without `pid`.
 */
function waitExec(init: SpawnedInit): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let pid: number | undefined;
    let error: ErrorRecord | undefined;
    init.control.setEncoding('utf8');
    init.control.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const message = JSON.parse(buffered.slice(0, nl)) as InitMessage;
        buffered = buffered.slice(nl + 1);
        if (message.type === 'error') error ??= message;
        else if (message.type === 'pid') pid = message.pid;
        else if (message.type === 'warning') logWarning(message.msg);
        else if (message.type === 'debug') debugLog('exec-init')(message.msg);
      }
    });
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      if (error !== undefined) reject(errorFromRecord(error, 'exec failed: unable to start container process: '));
      else if (pid === undefined) reject(new TsrunError('exec failed: unable to start container process: the exec process exited before it was ready'));
      else resolve(pid);
    };
    init.control.on('end', done);
    init.control.on('close', done);
    init.control.on('error', () => {});
  });
}

