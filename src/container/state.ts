// The container's record in <root>/<id>/state.json, and its status derived from facts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerStatus, Spec, State } from '../spec/types';
import { NotFoundError, TsrunError } from '../errors';
import { recordFrozen } from '../cgroups';
import type { CgroupRecord } from '../cgroups/common';
import { containerDir, RECOVERY_FILE, STATE_FILE, stateRootRefused } from './paths';
import { EXEC_FIFO } from '../protocol/init-protocol';
import type { ResctrlGroup } from './intel-rdt';
import { OCI_VERSION } from '../spec/default-config';
import { startTime } from '../procfs';

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
  /** linux.intelRdt: the resctrl groups joined (intel-rdt.ts). */
  intelRdt?: ResctrlGroup;
}

/**
 * What must be undone if `create` never finishes, kept in <root>/<id>/recovery.json apart
 * from state.json and rewritten (atomically) before each thing `create` makes: a SIGKILL at
 * any instant, or a damaged state.json later, leaves `delete --force` what it needs.
 */
export interface RecoveryRecord {
  id: string;
  /** The `create` (or `run`) process: while it lives and state.json is missing, the container is being created. */
  creator: ProcessRef;
  /** Processes to kill: the init and, with a user namespace, its waiter (tsrun-userns). */
  processes: ProcessRef[];
  /** The cgroups as planned before they are made ("created" lists every directory that was missing). */
  cgroup?: CgroupRecord;
  /** Set once state.json is written: from then on a missing state.json means damage. */
  recorded?: boolean;
  /** linux.intelRdt: the resctrl groups, noted as they are made. */
  intelRdt?: ResctrlGroup;
}

/** A process as recorded: its pid and start time (field 22), so a recycled pid is never taken for it. */
export interface ProcessRef {
  pid: number;
  start: string;
}

/** A container as a command sees it: where it lives and what its record says. */
export interface Container {
  id: string;
  dir: string;
  /** Undefined while `create` is still running (status "creating"), or when damaged. */
  record?: ContainerRecord;
  /** What create recorded for undoing it (absent for containers of older tsrun versions). */
  recovery?: RecoveryRecord;
  /** Why the container's state cannot be read (state.json missing or not a record): only `delete --force` and `list` take it. */
  damaged?: string;
}

export class NoSuchContainer extends NotFoundError {
  constructor(id: string) {
    super(`container does not exist: ${id}`);
  }
}

/** The container, with its record; a damaged one is an error naming the way out. */
export function loadContainer(root: string, id: string): Container {
  const container = inspectContainer(root, id);
  if (container.damaged) throw damagedError(container);
  return container;
}

export function damagedError(container: Container): TsrunError {
  return new TsrunError(`container ${container.id} is damaged: ${container.damaged}; \`tsrun delete --force ${container.id}\` kills what is left of it and removes it`);
}

/**
 * The container as found on disk, never failing on a damaged state: state.json is checked
 * for the fields later commands rely on, and recovery.json tells a container still being
 * created from one whose state was lost.
 */
export function inspectContainer(root: string, id: string): Container {
  const dir = containerDir(root, id);
  const file = path.join(dir, STATE_FILE);
  const recovery = loadRecovery(dir, id);
  let text: string | undefined;
  let damaged: string | undefined;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') {
      const refused = stateRootRefused(root, err);
      if (refused) throw refused;
      damaged = `${file}: cannot be read (${code ?? (err as Error).message})`;
    } else if (!fs.existsSync(dir)) throw new NoSuchContainer(id);
  }
  if (text === undefined) {
    if (damaged) return { id, dir, recovery, damaged };
    // Being created while its creator lives; lost if state.json was written once, or the creator died.
    if (!recovery) return { id, dir };
    if (recovery.recorded) return { id, dir, recovery, damaged: `${file} is missing` };
    if (!alive(recovery.creator)) return { id, dir, recovery, damaged: `its create (pid ${recovery.creator.pid}) was interrupted` };
    return { id, dir, recovery };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { id, dir, recovery, damaged: `${file} is ${text.trim() === '' ? 'empty' : 'not JSON'}` };
  }
  const wrong = recordProblem(parsed, id);
  if (wrong) return { id, dir, recovery, damaged: `${file} is not a container record (${wrong})` };
  return { id, dir, record: parsed as ContainerRecord, recovery };
}

/** What is wrong with a parsed state.json, or undefined when it has every field later commands use. */
function recordProblem(value: unknown, id: string): string | undefined {
  if (!isObject(value)) return `expected an object, found ${value === null ? 'null' : typeof value}`;
  if (value.id !== id) return value.id === undefined ? '/id is missing' : `/id is ${JSON.stringify(value.id)}, expected ${JSON.stringify(id)}`;
  if (!Number.isInteger(value.pid) || (value.pid as number) < 0) return '/pid is not a process id';
  for (const key of ['ociVersion', 'bundle', 'rootfs', 'created', 'owner', 'initStartTime']) {
    if (typeof value[key] !== 'string') return `/${key} is not a string`;
  }
  if (!isObject(value.config)) return '/config is not an object';
  if (value.annotations !== undefined && !isObject(value.annotations)) return '/annotations is not an object';
  if (value.cgroup !== undefined && !isCgroupRecord(value.cgroup)) return '/cgroup is not a cgroup record';
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCgroupRecord(value: unknown): value is CgroupRecord {
  if (!isObject(value) || (value.version !== 1 && value.version !== 2)) return false;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string' && path.isAbsolute(x));
  return isObject(value.dirs) && strings(Object.values(value.dirs)) && strings(value.created);
}

function isProcessRef(value: unknown): value is ProcessRef {
  return isObject(value) && Number.isInteger(value.pid) && (value.pid as number) > 0 && typeof value.start === 'string';
}

/** recovery.json, or undefined when absent or not a valid record (then nothing is taken from it). */
export function loadRecovery(dir: string, id: string): RecoveryRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(path.join(dir, RECOVERY_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(value) || value.id !== id || !isProcessRef(value.creator)) return undefined;
  if (!Array.isArray(value.processes) || !value.processes.every(isProcessRef)) return undefined;
  if (value.cgroup !== undefined && !isCgroupRecord(value.cgroup)) return undefined;
  return value as unknown as RecoveryRecord;
}

/** Written before each step of `create` that leaves something to undo. */
export function saveRecovery(dir: string, recovery: RecoveryRecord): void {
  writeAtomically(dir, RECOVERY_FILE, JSON.stringify(recovery));
}

/** The process as recorded (pid and start time), if it is still that process and alive. */
export function alive(ref: ProcessRef): boolean {
  return startTime(ref.pid) === ref.start;
}

/** A reference to a live process, for the recovery record (undefined if it is already gone). */
export function processRef(pid: number): ProcessRef | undefined {
  const start = startTime(pid);
  return start === undefined ? undefined : { pid, start };
}

export function saveRecord(dir: string, record: ContainerRecord): void {
  writeAtomically(dir, STATE_FILE, JSON.stringify(record));
}

/** Write temp + rename inside the state dir: readers see the old file or the new one, never a part. */
function writeAtomically(dir: string, name: string, text: string): void {
  const file = path.join(dir, name);
  fs.writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

/** True while the container's init is the very process that `create` started. */
export function initAlive(record: ContainerRecord): boolean {
  return record.pid > 0 && startTime(record.pid) === record.initStartTime;
}

export function statusOf(container: Container): ContainerStatus {
  const { record } = container;
  if (container.damaged) throw damagedError(container);
  if (!record) return 'creating';
  if (!initAlive(record)) return 'stopped';
  if (recordFrozen(record.cgroup)) return 'paused';
  if (fs.existsSync(path.join(container.dir, EXEC_FIFO))) return 'created';
  return 'running';
}

/** A container whose state.json is lost or unreadable: `list` shows it with this status. */
export const DAMAGED = 'damaged';

/** What `list` shows: the OCI state, or for a damaged container its id, "damaged" and the pid of an init still alive. */
export function listState(container: Container): Omit<StateOutput, 'status'> & { status: ContainerStatus | typeof DAMAGED } {
  if (!container.damaged) return ociState(container);
  const live = container.recovery?.processes.find(alive);
  return {
    ociVersion: '', id: container.id, pid: live?.pid ?? 0, status: DAMAGED, bundle: '', rootfs: '', created: '', owner: '', annotations: {},
  };
}

/** What `state` prints: the OCI state plus runc's rootfs, created and owner. */
export type StateOutput = State & { rootfs: string; created: string; owner: string };

export function ociState(container: Container): StateOutput {
  const status = statusOf(container);
  const r = container.record;
  return {
    ociVersion: r?.ociVersion ?? OCI_VERSION,
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
