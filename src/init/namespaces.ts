// Namespaces the init enters itself, on its main thread. pid and time namespaces apply to
// children, so the parent sets those up before spawning the init (container/spawn-init.ts).
import * as fs from 'node:fs';
import { CLONE, libc, O } from '../../bindings';
import type { LinuxNamespace, LinuxNamespaceType } from '../spec/types';
import { TsrunError } from '../errors';

export const NAMESPACE_FLAGS: Record<LinuxNamespaceType, number> = {
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  mount: CLONE.NEWNS,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/** Joined before new ones are made; mount last, since joining it changes how paths resolve. */
const JOIN_ORDER: LinuxNamespaceType[] = ['ipc', 'uts', 'network', 'cgroup', 'mount'];

/**
 * Joins and makes every namespace but a new cgroup namespace (see enterCgroup). With a
 * cgroup namespace joined by path, `joinCgroups` (our move into the container's cgroups)
 * runs first, since after that join the host's cgroup paths no longer resolve.
 */
export function enterNamespaces(namespaces: LinuxNamespace[], debug: (msg: string) => void, joinCgroups: () => void = () => {}): void {
  const sys = libc();
  const byType = new Map(namespaces.map((ns) => [ns.type, ns]));
  const cgroupJoined = !!byType.get('cgroup')?.path;
  const joins = JOIN_ORDER.map((t) => byType.get(t)).filter((ns): ns is LinuxNamespace => !!ns?.path);
  const fds: Array<{ ns: LinuxNamespace; fd: number }> = [];
  try {
    for (const ns of joins) fds.push({ ns, fd: openNamespace(ns) });
    if (cgroupJoined) joinCgroups();
    for (const { ns, fd } of fds) {
      debug(`join ${ns.type} namespace ${ns.path}`);
      // A thread that shares its fs_struct with others cannot change mount namespace.
      if (ns.type === 'mount') sys.unshare(CLONE.FS);
      try {
        sys.setns(fd, NAMESPACE_FLAGS[ns.type]);
      } catch (err) {
        throw new TsrunError(`joining ${ns.type} namespace ${ns.path}: ${(err as Error).message}`);
      }
    }
  } finally {
    for (const { fd } of fds) fs.closeSync(fd);
  }
  let flags = 0;
  for (const t of ['mount', 'uts', 'ipc', 'network'] as const) {
    const ns = byType.get(t);
    if (ns && !ns.path) flags |= NAMESPACE_FLAGS[t];
  }
  if (flags) {
    debug(`unshare 0x${flags.toString(16)}`);
    sys.unshare(flags);
  }
}

/**
 * The init's last step before `ready`: move into the container's cgroups, then make its
 * cgroup namespace (rooted there). As late as possible, so that what the Node init touches
 * while it sets the container up is not charged to the container (docs/design-notes.md,
 * "The late cgroup join"): a 1 MiB limit must leave room for the user's process.
 */
export function enterCgroup(namespaces: LinuxNamespace[], debug: (msg: string) => void, joinCgroups: () => void): void {
  const cgroupNs = namespaces.find((ns) => ns.type === 'cgroup');
  if (cgroupNs?.path) return; // joined with the namespaces, before everything else
  joinCgroups();
  if (cgroupNs) {
    debug('unshare cgroup namespace');
    libc().unshare(CLONE.NEWCGROUP);
  }
}

export function openNamespace(ns: LinuxNamespace): number {
  try {
    return fs.openSync(ns.path!, O.RDONLY | O.CLOEXEC);
  } catch (err) {
    throw new TsrunError(`${ns.type} namespace path ${ns.path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
}
