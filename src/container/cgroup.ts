// The container's cgroups as the container commands use them: made and limited by create,
// read back from the record by pause/resume/ps/events/update/kill/delete.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O } from '../../bindings';
import { Cgroup, CgroupRecord, detectLayout, isPermissionError, openCgroup, resolveCgroup } from '../cgroups';
import type { LinuxResources, Spec } from '../spec/types';
import { TsrunError } from '../errors';
import { debugLog, logWarning } from '../logging';

const debug = debugLog('cgroup');
import type { ContainerRecord } from './state';

export interface CgroupSetupOptions {
  /** --rootless (resolved): permission errors leave the container without a cgroup when it sets no limits. */
  rootless?: boolean;
  /** Called before anything is made, with every directory that is missing listed as created (for recovery.json). */
  beforeCreate?: (planned: CgroupRecord) => void;
}

/**
 * Make the container's cgroups and apply linux.resources; on failure nothing is left.
 * Rootless (as runc's cgroupfs managers): when the cgroup cannot be made for lack of
 * permission and linux.cgroupsPath is not set, the container goes without a cgroup if
 * linux.resources asks for no limits (device rules do not count: a user namespace cannot
 * make device nodes anyway) and create fails naming linux.resources if it does.
 */
export function setupCgroup(id: string, config: Spec, opts: CgroupSetupOptions = {}): Cgroup | undefined {
  const record = resolveCgroup(id, config.linux?.cgroupsPath, detectLayout());
  const cg = openCgroup(record);
  // A cgroup that already holds processes belongs to someone else (runc refuses it too).
  const busy = cg.pids();
  if (busy.length > 0) {
    throw new TsrunError(`linux.cgroupsPath: the container's cgroup ${Object.values(record.dirs)[0]} is not empty: ${busy.length} process(es) found`);
  }
  // runc: "container's cgroup unexpectedly frozen". The init would freeze on joining it,
  // and create would wait for it forever. Checked before anything is made or changed.
  const frozen = frozenBy(record);
  if (frozen) throw new TsrunError(`linux.cgroupsPath: the container's cgroup is frozen (${frozen}): its processes could not run; thaw it first`);
  const resources = config.linux?.resources ?? {};
  const euid = process.geteuid?.() ?? 0;
  opts.beforeCreate?.(planned(record));
  try {
    cg.create();
  } catch (err) {
    destroyCgroup(cg);
    if (!isPermissionError(err)) throw err;
    if (!opts.rootless) {
      if (euid === 0) throw err;
      throw new TsrunError(`${(err as Error).message} (running as uid ${euid} with --rootless=false: cgroup errors are fatal; use --rootless=auto)`);
    }
    if (config.linux?.cgroupsPath) throw new TsrunError(`rootless container: linux.cgroupsPath ${config.linux.cgroupsPath}: ${(err as Error).message}`);
    const limits = limitsSet(resources);
    if (limits.length > 0) {
      throw new TsrunError(
        `rootless container: ${limits.map((l) => `linux.resources.${l}`).join(', ')} set, but uid ${euid} cannot create a cgroup (${(err as Error).message}); ` +
          'remove linux.resources (tsrun spec --rootless writes none) or set linux.cgroupsPath to a cgroup delegated to this user',
      );
    }
    debug(`rootless: no cgroup (${(err as Error).message})`);
    return undefined;
  }
  try {
    // A device cgroup program needs CAP_SYS_ADMIN on the host: rootless goes without (as runc).
    if (euid !== 0 && opts.rootless) cg.apply(resources, { skipDevices: true });
    else cg.apply(resources);
  } catch (err) {
    destroyCgroup(cg);
    throw err;
  }
  return cg;
}

/**
 * "<file> says ..." when the container's cgroup is frozen, itself or through a parent, in the
 * v1 freezer or the cgroup2 tree. A cgroup not made yet would inherit the state of its
 * nearest existing ancestor, so that one is read (both files report the effective state).
 */
function frozenBy(record: CgroupRecord): string | undefined {
  const stateOf = (dir: string | undefined, file: string): [string, string] | undefined => {
    for (let d = dir; d && d !== path.dirname(d); d = path.dirname(d)) {
      try {
        return [path.join(d, file), fs.readFileSync(path.join(d, file), 'utf8')];
      } catch {
        // not made yet: its parent decides
      }
    }
    return undefined;
  };
  const v1 = stateOf(record.dirs.freezer, 'freezer.state');
  if (v1 && /^(FROZEN|FREEZING)$/.test(v1[1].trim())) return `${v1[0]} says ${v1[1].trim()}`;
  const v2 = stateOf(record.dirs.unified, 'cgroup.events');
  if (v2 && /^frozen 1$/m.test(v2[1])) return `${v2[0]} says frozen 1`;
  return undefined;
}

/** The record with every directory create() would make now listed in `created` (parents first). */
function planned(record: CgroupRecord): CgroupRecord {
  const missing = new Set<string>();
  for (const dir of Object.values(record.dirs)) {
    const chain: string[] = [];
    for (let d = dir; !fs.existsSync(d) && d !== path.dirname(d); d = path.dirname(d)) chain.unshift(d);
    for (const d of chain) missing.add(d);
  }
  return { ...record, created: [...missing] };
}

/** The linux.resources sections that need a cgroup (all but device rules), by name. */
export function limitsSet(resources: LinuxResources): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(resources)) {
    if (key === 'devices' || value === undefined || value === null) continue;
    if (typeof value === 'object' && Object.values(value as object).every((v) => v === undefined || v === null)) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    out.push(key);
  }
  return out;
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

/** Where a container of this id gets its cgroups without linux.cgroupsPath: the last resort of delete --force. */
export function defaultCgroup(id: string): CgroupRecord {
  return resolveCgroup(id, undefined, detectLayout());
}

/** The container's cgroups; a clear error for containers created without them. */
export function cgroupOf(record: ContainerRecord): Cgroup {
  if (!record.cgroup) {
    throw new TsrunError(record.rootless
      ? `container ${record.id} has no cgroup: it was created rootless without a writable cgroup (set linux.cgroupsPath to a cgroup delegated to this user)`
      : `container ${record.id} has no cgroup (created by an older tsrun)`);
  }
  return openCgroup(record.cgroup);
}

/** cgroup.procs files opened now, while our paths are the host's. */
export function openForWriting(files: string[]): Array<{ file: string; fd: number }> {
  const opened: Array<{ file: string; fd: number }> = [];
  try {
    for (const file of files) opened.push({ file, fd: fs.openSync(file, O.WRONLY | O.CLOEXEC) });
  } catch (err) {
    for (const { fd } of opened) fs.closeSync(fd);
    throw new TsrunError(`joining cgroup: ${(err as Error).message}`);
  }
  return opened;
}

/** Write `pid` to each fd, one thread-pool request each: they go on while our main thread is busy. */
export function joinCgroupsInBackground(files: Array<{ file: string; fd: number }>, pid: number): Promise<void> {
  const text = String(pid);
  return Promise.all(files.map(({ file, fd }) => new Promise<void>((resolve, reject) => {
    fs.write(fd, text, (err) => (err ? reject(new TsrunError(`joining cgroup ${file}: ${err.message}`)) : resolve()));
  }))).then(() => {});
}
