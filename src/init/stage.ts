// The hand-over from a Node init (or exec-init) to dist/tsrun-stage (bindings/process-stage.c),
// the single-threaded program that becomes the container's process.
//
// Why: Node's other threads keep the host's root and mount namespace whatever the main
// thread does, so no Node process may ever be visible inside a container (a process there
// with CAP_SYS_PTRACE could open /proc/<pid>/root of it and reach the host). Node does all
// the set-up that can fail on its main thread, then execs tsrun-stage in place from an fd
// opened before any namespace change; the exec ends every other thread. tsrun-stage forks
// into the container's pid namespace when needed, becomes the user, waits for `start` and
// execs the user's process (see the C file for the modes).
import * as fs from 'node:fs';
import { F_SETFD, libc, O } from '../../bindings';
import { TsrunError } from '../errors';
import type { PreparedCapabilities } from '../security/capabilities';
import type { StageSeccomp } from '../security/seccomp';
import type { Hook } from '../spec/types';
import { STAGE } from '../protocol/stage-binary';

/** Open tsrun-stage from the host's view (read-only runtime mount): before any namespace change. */
export function openStage(): number {
  try {
    return fs.openSync(STAGE, O.RDONLY | O.CLOEXEC);
  } catch (err) {
    throw new TsrunError(`${STAGE}: ${(err as Error).message} (npm run build makes it; it needs cc and libc6-dev)`);
  }
}

export type StageMode = 'exec' | 'exec-detach' | 'init' | 'init-fork' | 'init-fork-wait';
const MODE_LETTER: Record<StageMode, string> = { exec: 'e', 'exec-detach': 'd', init: 'i', 'init-fork': 'j', 'init-fork-wait': 'k' };

/** One process.rlimits entry: RLIMIT_* number, values (2^64-1 = unlimited), and how errors name it. */
export interface StageRlimit {
  resource: number;
  soft: bigint;
  hard: bigint;
  label: string;
}

export interface StagePlan {
  mode: StageMode;
  /** The control socket to the runtime: pid, ready and error lines. */
  controlFd: number;
  /** init modes: an O_PATH fd of exec.fifo. */
  fifoFd?: number;
  /** fork modes: the container's pid (and time) namespace, joined for the child. */
  pidNsFd?: number;
  timeNsFd?: number;
  user: { uid: number; gid: number; additionalGids: number[]; umask?: number };
  capabilities?: PreparedCapabilities;
  noNewPrivileges: boolean;
  rlimits: StageRlimit[];
  seccomp?: StageSeccomp;
  executable: string;
  argv: string[];
  env: string[];
  lsmExec?: { file: string; value: string };
  finalCpus?: number[];
  /** The pty is on fds 0-2: the forked child makes it its controlling terminal. */
  terminal: boolean;
  /** startContainer hooks (init modes), run with hookState on stdin. */
  hooks?: Hook[];
  hookState?: string;
  /** 'exec': fds of cgroup.procs files the stage writes itself to once it has forked. */
  cgroupHome?: number[];
  /** `wait` mode (the direct init): chdir here, unshare the cgroup namespace, join this keyring. */
  cwd?: string;
  cgroupNamespace?: boolean;
  sessionKeyring?: string;
  /** `wait` mode (the direct exec): the container's mount namespace, joined before the chdir. */
  mountNsFd?: number;
}

/** Records of [tag][u32 LE length][data], read by process-stage.c's read_plan. */
export function encodePlan(plan: StagePlan): Buffer {
  const parts: Buffer[] = [];
  const put = (tag: string, data: string | Buffer | number | bigint) => {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(String(data));
    const head = Buffer.alloc(5);
    head.write(tag, 0, 'latin1');
    head.writeUInt32LE(bytes.length, 1);
    parts.push(head, bytes);
  };
  const fd = (tag: string, n: number | undefined) => n !== undefined && put(tag, n);
  put('M', MODE_LETTER[plan.mode]);
  for (const n of plan.cgroupHome ?? []) put('o', n);
  put('c', plan.controlFd);
  fd('f', plan.fifoFd);
  fd('p', plan.pidNsFd);
  fd('t', plan.timeNsFd);
  put('u', plan.user.uid);
  put('g', plan.user.gid);
  for (const gid of plan.user.additionalGids) put('G', gid);
  if (plan.user.umask !== undefined) put('m', plan.user.umask);
  const caps = plan.capabilities;
  if (caps) {
    put('C', caps.lastCap);
    put('B', caps.bounding);
    put('E', caps.effective);
    put('P', caps.permitted);
    put('I', caps.inheritable);
    put('A', caps.ambient);
  }
  if (plan.noNewPrivileges) put('n', '1');
  for (const r of plan.rlimits) put('r', `${r.resource} ${r.soft} ${r.hard} ${r.label}`);
  if (plan.seccomp) {
    put('S', plan.seccomp.bpf);
    put('s', plan.seccomp.flags);
    fd('l', plan.seccomp.listenerFd);
    if (plan.seccomp.listenerMessage !== undefined) put('L', plan.seccomp.listenerMessage);
  }
  put('x', plan.executable);
  for (const a of plan.argv) put('a', a);
  for (const e of plan.env) put('v', e);
  if (plan.lsmExec) {
    put('F', plan.lsmExec.file);
    put('V', plan.lsmExec.value);
  }
  if (plan.finalCpus) {
    put('U', cpuSet(plan.finalCpus));
    put('W', plan.finalCpus.join(','));
  }
  if (plan.terminal) put('T', '1');
  for (const hook of plan.hooks ?? []) {
    put('h', hook.path);
    for (const a of hook.args ?? []) put('H', a);
    for (const e of hook.env ?? []) put('N', e);
    if (hook.timeout) put('O', hook.timeout);
  }
  if (plan.hookState !== undefined) put('K', plan.hookState);
  if (plan.cwd !== undefined) put('w', plan.cwd);
  if (plan.cgroupNamespace) put('Q', '1');
  if (plan.sessionKeyring !== undefined) put('k', plan.sessionKeyring);
  fd('J', plan.mountNsFd);
  return Buffer.concat(parts);
}

/** A cpu_set_t with the given CPUs (at least the 1024 bits glibc's type has). */
function cpuSet(cpus: number[]): Buffer {
  const set = Buffer.alloc(Math.max(128, Math.ceil((Math.max(...cpus) + 1) / 64) * 8));
  for (const cpu of cpus) set[cpu >> 3] |= 1 << (cpu & 7);
  return set;
}

/** Write the plan to a memfd and exec tsrun-stage in place. Never returns. */
export function execStage(stageFd: number, plan: StagePlan): never {
  const sys = libc();
  const data = encodePlan(plan);
  const memfd = sys.memfdCreate('tsrun-plan', 0);
  for (let off = 0; off < data.length;) off += fs.writeSync(memfd, data, off);
  // These must cross the exec; tsrun-stage marks them close-on-exec again at once.
  for (const n of [plan.controlFd, plan.fifoFd, plan.pidNsFd, plan.timeNsFd, plan.seccomp?.listenerFd, ...(plan.cgroupHome ?? [])]) {
    if (n !== undefined) sys.fcntl(n, F_SETFD, 0);
  }
  return sys.execveat(stageFd, ['tsrun-stage', String(memfd)], []);
}
