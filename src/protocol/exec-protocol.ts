// What `tsrun exec` sends the exec-init (dist/exec-init.js) over the control socket: one
// JSON line. The exec-init answers with debug and warning lines, `ready` when it hands over
// to tsrun-stage, then the stage's {"type":"pid"} (the host pid of the process it forked)
// or {"type":"error"}; on success the socket closes at execve (close-on-exec), so EOF
// after `pid` without an error means the process runs.
import type { LinuxSeccomp, Process } from '../spec/types';
import type { ListenerState } from '../security/seccomp';

export interface ExecRequest {
  process: Process;
  /** Host pid of the container's init, whose namespaces are joined through /proc/<pid>/ns. */
  initPid: number;
  /** Its start time (field 22 of /proc/<pid>/stat): checked after the namespace fds are open. */
  initStartTime: string;
  /** The container's seccomp profile (exec'd processes get it too, as with runc). */
  seccomp?: LinuxSeccomp;
  /** With seccomp.listenerPath: the container's state, sent to the listener with the notify fd. */
  listenerState?: ListenerState;
  /** cgroup.procs files (host paths) the exec-init writes its pid to before joining namespaces. */
  cgroupProcs: string[];
  /** Foreground: our own cgroup.procs files, where tsrun-stage goes back after its fork. */
  cgroupHome: string[];
  /** fds 3 .. 3+preserveFds-1 stay open in the process. */
  preserveFds: number;
  /** process.terminal: the exec-init's fd of a connected unix socket that receives the pty master. */
  consoleFd?: number;
  /** exec --detach: tsrun-stage does not wait for the process (our caller's subreaper reaps it). */
  detach: boolean;
  debug: boolean;
  /** Join the container's session keyring _ses.ID (unset: created with --no-new-keyring). */
  sessionKeyring?: string;
}

/** The container's session keyring (runc's name): the init creates it, `exec` joins it again. */
export function sessionKeyringName(id: string): string {
  return `_ses.${id}`;
}

/** The bundled exec-init file name, next to tsrun.js. */
export const EXEC_INIT_SCRIPT_NAME = 'exec-init.js';
