// The container's cgroups as the container commands use them: made and limited by create,
// read back from the record by pause/resume/ps/events/update/kill/delete.
import { Cgroup, detectLayout, openCgroup, resolveCgroup } from '../cgroups';
import type { Spec } from '../spec/types';
import { TsrunError } from '../errors';
import { logWarning } from '../logging';
import type { ContainerRecord } from './state';

/** Make the container's cgroups and apply linux.resources; on failure nothing is left. */
export function setupCgroup(id: string, config: Spec): Cgroup {
  const record = resolveCgroup(id, config.linux?.cgroupsPath, detectLayout());
  const cg = openCgroup(record);
  // A cgroup that already holds processes belongs to someone else (runc refuses it too).
  const busy = cg.pids();
  if (busy.length > 0) {
    throw new TsrunError(`linux.cgroupsPath: the container's cgroup ${Object.values(record.dirs)[0]} is not empty: ${busy.length} process(es) found`);
  }
  try {
    cg.create();
    cg.apply(config.linux?.resources ?? {}, { devices: config.linux?.devices });
  } catch (err) {
    destroyCgroup(cg);
    throw err;
  }
  return cg;
}

/** destroy() that never throws (undo paths): a failure is a warning. */
export function destroyCgroup(cg: Cgroup | undefined): void {
  if (!cg) return;
  try {
    cg.destroy();
  } catch (err) {
    logWarning(`removing the container's cgroups: ${(err as Error).message}`);
  }
}

/** The container's cgroups; a clear error for containers created without them. */
export function cgroupOf(record: ContainerRecord): Cgroup {
  if (!record.cgroup) throw new TsrunError(`container ${record.id} has no cgroup (created by an older tsrun)`);
  return openCgroup(record.cgroup);
}
