// The container process: environment, working directory, executable lookup, limits, and
// the hand-over to tsrun-stage, which becomes the user and execs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLOSE_RANGE_CLOEXEC, F_SETFD, libc, O, PR, SysError } from '../../bindings';
import type { Hook, Process } from '../spec/types';
import { NotFoundError, TsrunError } from '../errors';
import type { PreparedSeccomp } from '../security/seccomp';
import { PreparedCapabilities, prepareCapabilities } from '../security/capabilities';
import type { PreparedAttributes } from './attributes';
import { execStage, StageMode, StagePlan, StageRlimit } from './stage';

export interface PreparedProcess {
  executable: string;
  argv: string[];
  env: string[];
  /** The capability sets to apply; undefined when the config has none (nothing is changed). */
  capabilities?: PreparedCapabilities;
}

/** Everything that can fail is checked here, before `create` reports success. */
export function prepareProcess(proc: Process, warn: (msg: string) => void = () => {}): PreparedProcess {
  const env = [...(proc.env ?? [])];
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${homeOf(proc.user?.uid ?? 0)}`);
  const cwd = proc.cwd || '/';
  try {
    // runc creates a missing cwd; an existing non-directory is an error.
    mkdirAll(cwd);
    libc().chdir(cwd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'not a directory' : (err as Error).message;
    throw new TsrunError(`chdir to cwd (${JSON.stringify(cwd)}) set in config.json failed: ${why}`);
  }
  checkCwdInsideRoot(cwd);
  const argv = proc.args ?? [];
  const pathVar = env.findLast((e) => e.startsWith('PATH='))?.slice(5);
  const executable = lookPath(argv[0], pathVar);
  return { executable, argv, env, capabilities: prepareCapabilities(proc.capabilities, libc(), warn) };
}

/**
 * mkdir -p without Node's recursive mkdir, which retries forever when a directory cannot
 * be created in a parent that exists (ENOENT from procfs, e.g. cwd "/proc/self/fd/99").
 */
function mkdirAll(dir: string): void {
  let p = '';
  for (const part of path.posix.normalize(dir).split('/').filter(Boolean)) {
    p += `/${part}`;
    try {
      fs.mkdirSync(p, { mode: 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * CVE-2024-21626: a cwd such as /proc/self/fd/<n> can name a directory fd of ours that
 * points outside the container's root. getcwd(3) (through realpath) fails with ENOENT when
 * the working directory is not reachable from our root: refuse it then.
 */
function checkCwdInsideRoot(cwd: string): void {
  try {
    fs.realpathSync.native('.');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? "it is outside the container's root filesystem" : (err as Error).message;
    throw new TsrunError(`chdir to cwd (${JSON.stringify(cwd)}) set in config.json failed: ${why}`);
  }
}

function homeOf(uid: number): string {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields.length >= 6 && Number(fields[2]) === uid && fields[5]) return fields[5];
    }
  } catch {
    // No /etc/passwd in the container: runc falls back to "/".
  }
  return '/';
}

/** Find the executable as the container will see it (we are already inside its root). */
export function lookPath(file: string, pathVar: string | undefined): string {
  const quoted = JSON.stringify(file);
  if (file.includes('/')) {
    checkExecutable(file, `exec: ${quoted}`);
    return file;
  }
  for (const dir of (pathVar ?? '').split(':')) {
    const candidate = path.join(dir || '.', file);
    try {
      const st = fs.statSync(candidate);
      if (st.isFile() && (st.mode & 0o111) !== 0) return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new NotFoundError(`exec: ${quoted}: executable file not found in $PATH`);
}

function checkExecutable(file: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TsrunError(`${what}: stat ${file}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  if (st.isDirectory()) throw new TsrunError(`${what}: ${file} is a directory: permission denied`);
  if ((st.mode & 0o111) === 0) throw new TsrunError(`${what}: ${file}: permission denied`);
}

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** JSON cannot carry 2^64-1 exactly: anything at or past 2^64 - 2^11 is "unlimited". */
function rlimitValue(value: number): bigint {
  return value >= 18446744073709549568 ? 0xffffffffffffffffn : BigInt(Math.trunc(value));
}

/**
 * process.rlimits for tsrun-stage, which sets them just before the user change: set in the
 * Node process itself, a small RLIMIT_AS or RLIMIT_DATA would make V8 run out of memory.
 */
export function planRlimits(proc: Process): StageRlimit[] {
  return (proc.rlimits ?? []).map((r) => {
    const resource = RLIMITS[r.type];
    if (resource === undefined) throw new TsrunError(`process.rlimits: unknown type ${r.type}`);
    return { resource, soft: rlimitValue(r.soft), hard: rlimitValue(r.hard), label: `process.rlimits ${r.type} soft=${r.soft} hard=${r.hard}` };
  });
}

/**
 * Only fds 0-2 and the preserved ones survive execve. Node marks the fds it inherits
 * close-on-exec, but only up to the first gap past fd 15: mark the rest ourselves.
 */
export function keepFds(preserveFds: number): void {
  libc().closeRange(3 + preserveFds, 0xffffffff, CLOSE_RANGE_CLOEXEC);
  for (let fd = 0; fd < 3 + preserveFds; fd++) {
    try {
      libc().fcntl(fd, F_SETFD, 0);
    } catch (err) {
      if (!(err instanceof SysError && err.code === 'EBADF')) throw err;
    }
  }
}

export function setNoNewPrivileges(proc: Process): void {
  if (proc.noNewPrivileges) libc().prctl(PR.SET_NO_NEW_PRIVS, 1);
}

/** How the init or exec-init hands over to tsrun-stage (see stage.ts). */
export interface HandOver {
  mode: StageMode;
  controlFd: number;
  fifoFd?: number;
  pidNsFd?: number;
  timeNsFd?: number;
  seccomp?: PreparedSeccomp;
  attributes: PreparedAttributes;
  /** The pty is on fds 0-2 and the stage's forked child must make it its controlling terminal. */
  terminal?: boolean;
  hooks?: Hook[];
  hookState?: string;
  /** Foreground exec: fds of our own cgroup.procs files, where the stage returns after its fork. */
  cgroupHome?: number[];
  /** The stage's wait mode (direct init and exec): see StagePlan. */
  cwd?: string;
  cgroupNamespace?: boolean;
  sessionKeyring?: string;
  mountNsFd?: number;
}

/** Our own cgroup.procs files, opened before we leave them (host paths): see HandOver.cgroupHome. */
export function openCgroupHome(files: string[] | undefined): number[] {
  return (files ?? []).map((file) => {
    try {
      return fs.openSync(file, O.WRONLY | O.CLOEXEC);
    } catch (err) {
      throw new TsrunError(`opening our own cgroup ${file}: ${(err as Error).message}`);
    }
  });
}

/**
 * The last steps, done by tsrun-stage once Node is gone: the user and groups, capabilities,
 * no_new_privs, seccomp, the LSM label and CPU affinity, then execve.
 */
export function handOverToStage(stageFd: number, proc: Process, prepared: PreparedProcess, h: HandOver): never {
  return execStage(stageFd, stagePlan(proc, prepared, h));
}

/** What tsrun-stage is told to do for `proc`. */
export function stagePlan(proc: Process, prepared: PreparedProcess, h: HandOver): StagePlan {
  const user = proc.user ?? { uid: 0, gid: 0 };
  return {
    mode: h.mode,
    controlFd: h.controlFd,
    fifoFd: h.fifoFd,
    pidNsFd: h.pidNsFd,
    timeNsFd: h.timeNsFd,
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids ?? [], umask: user.umask ?? 0o022 },
    capabilities: prepared.capabilities,
    noNewPrivileges: !!proc.noNewPrivileges,
    rlimits: planRlimits(proc),
    seccomp: h.seccomp?.forStage(h.mode !== 'init'),
    executable: prepared.executable,
    argv: prepared.argv,
    env: prepared.env,
    lsmExec: h.attributes.lsmExec,
    finalCpus: h.attributes.finalCpus,
    terminal: !!h.terminal,
    hooks: h.hooks,
    hookState: h.hookState,
    cgroupHome: h.cgroupHome,
    cwd: h.cwd,
    cgroupNamespace: h.cgroupNamespace,
    sessionKeyring: h.sessionKeyring,
    mountNsFd: h.mountNsFd,
  };
}
