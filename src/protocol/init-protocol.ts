// Messages between `tsrun create` (the parent) and the container init, one JSON object per
// line over a socketpair that is the init's fd `controlFd`. The parent sends one SetupRequest;
// the init answers with log lines and finally `ready` or `error`.
import type { ErrorRecord } from '../errors';
import type { Spec } from '../spec/types';

export interface SetupRequest {
  config: Spec;
  /** Absolute host path of the root filesystem. */
  rootfs: string;
  bundle: string;
  /** The container's state directory: the init opens exec.fifo there. */
  stateDir: string;
  noPivot: boolean;
  /** --no-new-keyring: keep the caller's session keyring (default: a new one, _ses.ID). */
  noNewKeyring?: boolean;
  /** fds 3 .. 3+preserveFds-1 stay open in the container (--preserve-fds, LISTEN_FDS). */
  preserveFds: number;
  debug: boolean;
  /**
   * cgroup.procs files the init writes itself to once Node has booted (so the container's
   * memory limit is not charged for it), before it unshares the cgroup namespace.
   */
  cgroupProcs?: string[];
  /** The container's cgroup directories (host paths): a cgroup mount binds them. */
  cgroupDirs?: string[];
  /** What createContainer/startContainer hooks get on stdin (the init fills in pid and status). */
  hookState?: { ociVersion: string; id: string; bundle: string; annotations?: Record<string, string> };
  /** Pause before pivot_root for the parent's prestart/createRuntime hooks ("hooks", then "hooks-done"). */
  syncHooks?: boolean;
  /**
   * With a user namespace the init is not allowed to open cgroup files: it sends
   * JoinCgroupRequest at the point it would join, and the parent writes its pid.
   */
  parentJoinsCgroup?: boolean;
  /** The init's fd (O_PATH) of the state directory, when it may not be able to open it itself. */
  stateDirFd?: number;
  /** process.terminal: the init's fd of a connected unix socket that receives the pty master. */
  consoleFd?: number;
  /**
   * Idmapped mounts: the init's fd of a unix socket on which the parent has sent one
   * detached, idmapped mount (open_tree fd, SCM_RIGHTS) per idmapped entry of
   * config.mounts, in order, each named by its index in config.mounts.
   */
  mountFdSocket?: number;
  /** The proc mounts of a joined pid namespace come on mountFdSocket too (joined-pid-ns.ts). */
  procMountsSent?: boolean;
  /**
   * A pid namespace joined only by tsrun-stage's child (joined-pid-ns.ts): the init's fd of
   * it. The init itself stays out of it; the container's pid is then the stage's "pid" message.
   */
  joinPidNsFd?: number;
  /** With joinPidNsFd: tsrun-stage waits for the process and exits with its status (foreground run). */
  forkedWaits?: boolean;
  /** With forkedWaits: our own cgroup.procs files, where tsrun-stage goes back after its fork. */
  cgroupHome?: string[];
}

export type InitMessage =
  | { type: 'debug'; msg: string }
  | { type: 'warning'; msg: string }
  | { type: 'ready' }
  /** The init has booted and read its request: its own set-up work starts now. */
  | { type: 'setup-started' }
  /** From tsrun-stage when it forked the process (exec, or an init joining a pid namespace): its host pid. */
  | { type: 'pid'; pid: number }
  /** The set-up failed: the error's text and kind (errorRecord); tsrun-stage sends msg alone. */
  | ({ type: 'error' } & ErrorRecord);

/** In the state directory: the init (tsrun-stage) opens it and blocks until `start` reads it. */
export const EXEC_FIFO = 'exec.fifo';

/** The init finds its control socket in this environment variable (fd number). */
export const CONTROL_FD_ENV = '_TSRUN_CONTROL_FD';

/** From the init: mounts are done, pivot_root is next: the parent runs prestart/createRuntime. */
export interface HooksRequest {
  type: 'hooks';
}

/** The parent's answer to HooksRequest. */
export interface HooksDone {
  type: 'hooks-done';
}

/** From the init (parentJoinsCgroup): put me in the container's cgroups now. */
export interface JoinCgroupRequest {
  type: 'join-cgroup';
}

/** The parent's answer to JoinCgroupRequest. */
export interface CgroupJoined {
  type: 'cgroup-joined';
}

/** From the init (linux.netDevices): its network namespace exists; the parent moves the devices in. */
export interface NetDevicesRequest {
  type: 'net-devices';
}

/** The parent's answer to NetDevicesRequest. */
export interface NetDevicesMoved {
  type: 'net-devices-moved';
}
