// linux.intelRdt (runtime-spec 1.3, runc's way): the container's init joins a resctrl
// CTRL_MON group, <resctrl>/<closID> (the container id without closID, the root for "/"),
// made when missing; l3CacheSchema, memBwSchema then schemata are written to its schemata
// file; with enableMonitoring it also joins mon_groups/<id>. delete removes the MON group,
// and the CTRL_MON group only when tsrun made it without a closID. A host without a
// mounted resctrl refuses the field (the spec: generate an error).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LinuxIntelRdt } from '../spec/types';
import { TsrunError } from '../errors';
import { unescapeMountPath } from '../procfs';

/** What create made or joined: what delete undoes. */
export interface ResctrlGroup {
  /** The CTRL_MON group the init joined. */
  dir: string;
  /** Removed at delete: made by tsrun, without a closID. */
  remove: boolean;
  /** mon_groups/<id>, with enableMonitoring (always removed at delete). */
  monDir?: string;
}

/** The mount point of the first resctrl file system in a mountinfo text, if any. */
export function resctrlMount(mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const [mountFields, fsFields] = line.split(' - ');
    if (fsFields?.split(' ')[0] !== 'resctrl') continue;
    // Field 5 is the mount point.
    const mountPoint = mountFields.split(' ')[4];
    return mountPoint === undefined ? undefined : unescapeMountPath(mountPoint);
  }
  return undefined;
}

/** The host's resctrl mount point, or why there is none (an error for linux.intelRdt). */
export function hostResctrl(): string {
  const mount = resctrlMount(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  if (mount) return mount;
  const known = /\tresctrl$/m.test(fs.readFileSync('/proc/filesystems', 'utf8'));
  throw new TsrunError(known
    ? 'linux.intelRdt: no resctrl file system is mounted on this host (mount -t resctrl resctrl /sys/fs/resctrl)'
    : 'linux.intelRdt: this host has no resctrl file system (the kernel lacks Intel RDT / AMD PQoS support, or the CPU has none)');
}

/** The CTRL_MON group's directory under the resctrl mount `root`. */
export function groupDir(rdt: LinuxIntelRdt, id: string, root: string): string {
  if (rdt.closID === '/') return root;
  return path.join(root, rdt.closID || id);
}

const schemaLines = (rdt: LinuxIntelRdt) => [rdt.l3CacheSchema, rdt.memBwSchema, ...(rdt.schemata ?? [])].filter((s): s is string => !!s);
/** enableCMT and enableMBM (runtime-spec 1.1 to 1.2) became enableMonitoring in 1.3. */
const monitoring = (rdt: LinuxIntelRdt) => !!(rdt.enableMonitoring || rdt.enableCMT || rdt.enableMBM);

/** runc's checks against the host's resctrl at `root`: what it cannot do is refused before anything is made. */
export function checkIntelRdt(rdt: LinuxIntelRdt, id: string, root: string): void {
  const clos = rdt.closID ?? '';
  if (clos === '.' || clos === '..' || (clos.length > 1 && clos.includes('/'))) {
    throw new TsrunError(`linux.intelRdt.closID: ${JSON.stringify(clos)} is not a resctrl group name`);
  }
  for (const [field, value] of [['l3CacheSchema', rdt.l3CacheSchema], ['memBwSchema', rdt.memBwSchema], ...(rdt.schemata ?? []).map((s, i) => [`schemata[${i}]`, s])]) {
    if (value?.includes('\n')) throw new TsrunError(`linux.intelRdt.${field}: ${JSON.stringify(value)} contains a newline`);
  }
  if (rdt.l3CacheSchema && !fs.existsSync(path.join(root, 'info', 'L3'))) {
    throw new TsrunError(`linux.intelRdt.l3CacheSchema: this host's resctrl (${root}) has no L3 cache allocation (Intel RDT/CAT; no info/L3)`);
  }
  if (rdt.memBwSchema && !fs.existsSync(path.join(root, 'info', 'MB'))) {
    throw new TsrunError(`linux.intelRdt.memBwSchema: this host's resctrl (${root}) has no memory bandwidth allocation (Intel RDT/MBA; no info/MB)`);
  }
  const dir = groupDir(rdt, id, root);
  if (rdt.closID && schemaLines(rdt).length === 0 && !fs.existsSync(dir)) {
    throw new TsrunError(`linux.intelRdt.closID: the resctrl group ${dir} does not exist (without l3CacheSchema, memBwSchema or schemata it must be made beforehand)`);
  }
}

/**
 * Puts `pid` in its groups, after `record` has noted each directory it is about to own
 * (for a create that is killed). The caller removes the returned group on failure.
 */
export function joinIntelRdt(rdt: LinuxIntelRdt, id: string, pid: number, root: string, record: (group: ResctrlGroup) => void): ResctrlGroup {
  const dir = groupDir(rdt, id, root);
  const step = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      throw new TsrunError(`linux.intelRdt: ${what}: ${(err as Error).message}`);
    }
  };
  let made = false;
  step(`making ${dir}`, () => {
    try {
      fs.mkdirSync(dir, 0o755);
      made = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  });
  // As the spec: a group named by closID stays, even when tsrun made it.
  const group: ResctrlGroup = { dir, remove: made && !rdt.closID };
  record(group);
  const lines = schemaLines(rdt);
  // One write: the kernel checks the whole schemata (l3CacheSchema, memBwSchema, then schemata).
  if (lines.length > 0) step(`writing ${path.join(dir, 'schemata')}`, () => fs.writeFileSync(path.join(dir, 'schemata'), lines.map((l) => `${l}\n`).join('')));
  step(`writing ${path.join(dir, 'tasks')}`, () => fs.writeFileSync(path.join(dir, 'tasks'), String(pid)));
  if (monitoring(rdt)) {
    const monDir = path.join(dir, 'mon_groups', id);
    group.monDir = monDir;
    record(group);
    step(`making ${monDir}`, () => fs.mkdirSync(monDir, { recursive: true, mode: 0o755 }));
    step(`writing ${path.join(monDir, 'tasks')}`, () => fs.writeFileSync(path.join(monDir, 'tasks'), String(pid)));
  }
  return group;
}

/** What `update` may change: runc's --l3-cache-schema and --mem-bw-schema. */
export interface IntelRdtChange {
  l3CacheSchema?: string;
  memBwSchema?: string;
}

/**
 * `update --l3-cache-schema/--mem-bw-schema` as runc: refused in runc's words where the host
 * cannot (`root`: its resctrl mount, if any); a container without a group gets one, joined
 * by its init; otherwise only the given lines are written (the kernel keeps the others).
 */
export function updateIntelRdt(
  current: { rdt?: LinuxIntelRdt; group?: ResctrlGroup }, change: IntelRdtChange, id: string, pid: number, root: string | undefined,
): { rdt: LinuxIntelRdt; group: ResctrlGroup } {
  if (change.l3CacheSchema !== undefined && !(root && fs.existsSync(path.join(root, 'info', 'L3')))) throw new TsrunError('Intel RDT/CAT: l3 cache schema is not enabled');
  if (change.memBwSchema !== undefined && !(root && fs.existsSync(path.join(root, 'info', 'MB')))) throw new TsrunError('Intel RDT/MBA: memory bandwidth schema is not enabled');
  const given = Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined));
  const rdt: LinuxIntelRdt = { ...current.rdt, ...given };
  checkIntelRdt(rdt, id, root!);
  if (!current.group) return { rdt, group: joinIntelRdt(rdt, id, pid, root!, () => {}) };
  const file = path.join(current.group.dir, 'schemata');
  try {
    fs.writeFileSync(file, schemaLines(given).map((l) => `${l}\n`).join(''));
  } catch (err) {
    throw new TsrunError(`linux.intelRdt: writing ${file}: ${(err as Error).message}`);
  }
  return { rdt, group: current.group };
}

/** delete (or a failed create): the MON group, then the CTRL_MON group when it is ours. Gone already is fine. */
export function removeIntelRdt(group: ResctrlGroup | undefined): void {
  if (!group) return;
  for (const dir of [group.monDir, group.remove ? group.dir : undefined]) {
    if (!dir) continue;
    try {
      fs.rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new TsrunError(`linux.intelRdt: removing ${dir}: ${(err as Error).message}`);
    }
  }
}
