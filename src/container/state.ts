// The container's record in <root>/<id>/state.json, and its status derived from facts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerStatus, Spec, State } from '../spec/types';
import { TsrunError } from '../errors';
import { recordFrozen } from '../cgroups';
import type { CgroupRecord } from '../cgroups/common';
import { containerDir, EXEC_FIFO, STATE_FILE, stateRootRefused } from './paths';

/** What tsrun keeps about a container: the OCI state fields plus what later commands need. */
export interface ContainerRecord {
  ociVersion: string;
  id: string;
  pid: number;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  /** Field 22 of /proc/<pid>/stat when the init was seen: tells a recycled pid apart. */
  initStartTime: string;
  config: Spec;
  /** The container's cgroup directories (absolute), for pause/ps/events/update/delete. */
  cgroup?: CgroupRecord;
  /** Created with --rootless (resolved true): cgroup permission errors were not fatal. */
  rootless?: boolean;
  /** Created with --no-new-keyring: exec'd processes keep the caller's session keyring too. */
  noNewKeyring?: boolean;
}

/** A container as a command sees it: where it lives and what its record says. */
export interface Container {
  id: string;
  dir: string;
  /** Undefined while `create` is still running (status "creating"). */
  record?: ContainerRecord;
}

export class NoSuchContainer extends TsrunError {
  constructor(id: string) {
    super(`container does not exist: ${id}`);
  }
}

export function loadContainer(root: string, id: string): Container {
  const dir = containerDir(root, id);
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw stateRootRefused(root, err) ?? err;
    if (fs.existsSync(dir)) return { id, dir };
    throw new NoSuchContainer(id);
  }
  try {
    return { id, dir, record: JSON.parse(text) as ContainerRecord };
  } catch {
    throw new TsrunError(`${path.join(dir, STATE_FILE)}: the state file is corrupt (not JSON)`);
  }
}

export function saveRecord(dir: string, record: ContainerRecord): void {
  const file = path.join(dir, STATE_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(record), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * Start time of a live process (field 22 of /proc/<pid>/stat), or undefined when the
 * process is gone or a zombie: a zombie init has finished, the container is stopped.
 */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/** True while the container's init is the very process that `create` started. */
export function initAlive(record: ContainerRecord): boolean {
  return record.pid > 0 && processStartTime(record.pid) === record.initStartTime;
}

export function statusOf(container: Container): ContainerStatus {
  const { record } = container;
  if (!record) return 'creating';
  if (!initAlive(record)) return 'stopped';
  if (recordFrozen(record.cgroup)) return 'paused';
  if (fs.existsSync(path.join(container.dir, EXEC_FIFO))) return 'created';
  return 'running';
}

/** What `state` prints: the OCI state plus runc's rootfs, created and owner. */
export type StateOutput = State & { rootfs: string; created: string; owner: string };

export function ociState(container: Container): StateOutput {
  const status = statusOf(container);
  const r = container.record;
  return {
    ociVersion: r?.ociVersion ?? '1.2.0',
    id: container.id,
    pid: status === 'stopped' || !r ? 0 : r.pid,
    status,
    bundle: r?.bundle ?? '',
    rootfs: r?.rootfs ?? '',
    created: r?.created ?? '',
    owner: r?.owner ?? '',
    annotations: r?.annotations ?? {},
  };
}
