// A container that joins an existing pid namespace (linux.namespaces pid with a path: a pod
// whose containers share their processes). The processes already there can see every
// process that enters it, so the Node init must never enter it: Node's other threads keep
// the host's root and mount namespace (see src/init/stage.ts). The init is spawned in our
// own pid namespace instead, sets up the container, and tsrun-stage forks the container's
// process into the joined namespace once nothing of the host is left.
//
// proc shows the pid namespace of the process that mounts it, so the init cannot mount the
// container's /proc itself: `tsrun-stage proc` makes each one from inside the joined
// namespace (from an empty mount namespace of its own) and we pass the mounts to the init
// with the idmapped ones (SetupRequest.mountFdSocket), named by their index in config.mounts.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { MS } from '../../bindings';
import { recvFd, sendFd, socketpair } from '../../bindings/tty';
import { TsrunError } from '../errors';
import { parseMountOptions } from '../spec/mount-options';
import { withReadOnlyRuntime } from '../security/runtime-protection';
import type { LinuxNamespace, Spec } from '../spec/types';
import { runningInUserNamespace } from '../procfs';
import { openNamespace } from './spawn-init';
import { STAGE } from '../protocol/stage-binary';

/** The pid namespace to join this way, if any: when we are root on the host. */
export function joinedPidNamespace(namespaces: LinuxNamespace[]): LinuxNamespace | undefined {
  const pid = namespaces.find((ns) => ns.type === 'pid');
  if (!pid?.path) return undefined;
  if (process.geteuid?.() !== 0 || runningInUserNamespace()) return undefined;
  return pid;
}

/** MS_RDONLY/NOSUID/NODEV/NOEXEC have the same bits as MOUNT_ATTR_RDONLY/NOSUID/NODEV/NOEXEC. */
const ATTR_FLAGS = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC;

/**
 * Make every proc mount of the config in the joined namespace and send it on `socket`.
 * `userns`: the container's user namespace (a path), which the proc mount must belong to.
 */
export function sendProcMounts(config: Spec, pidNs: LinuxNamespace, socket: number, userns?: string): void {
  for (const [index, m] of (config.mounts ?? []).entries()) {
    if (m.type !== 'proc') continue;
    const fd = makeProcMount(pidNs, userns, parseMountOptions(m.options), `mounts[${index}] (proc on ${m.destination})`);
    try {
      sendFd(socket, fd, String(index));
    } finally {
      fs.closeSync(fd);
    }
  }
}

function makeProcMount(pidNs: LinuxNamespace, userns: string | undefined, options: { flags: number; data: string }, what: string): number {
  const nsPath = pidNs.path!;
  const ns = openNamespace(pidNs);
  const user = userns === undefined ? undefined : openNamespace({ type: 'user', path: userns });
  const [ours, theirs] = socketpair();
  try {
    const args = ['proc', '3', '4', user === undefined ? '-1' : '5', String(options.flags & ATTR_FLAGS), ...options.data.split(',').filter(Boolean)];
    const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'ignore', 'pipe', ns, theirs];
    if (user !== undefined) stdio.push(user);
    // Its child is visible in the pod: spawned from the view where tsrun's files are read-only.
    const r = withReadOnlyRuntime(() => spawnSync(STAGE, args, { stdio, timeout: 10_000 }));
    if (r.error || r.status !== 0) {
      const why = r.error?.message ?? (r.stderr.toString().trim() || `exit status ${r.status}`);
      throw new TsrunError(`${what}: making a proc mount for the pid namespace ${nsPath}: ${why}`);
    }
    return recvFd(ours, false).fd;
  } finally {
    fs.closeSync(ns);
    if (user !== undefined) fs.closeSync(user);
    fs.closeSync(ours);
    fs.closeSync(theirs);
  }
}
