// The configuration pipeline: a bundle's config.json becomes, once, the typed plan that
// `create` (and so `run`) builds the container from (as runc's specconv does). Nothing is
// made before it has passed: read -> schema -> the caller (rootless needs a user namespace)
// -> semantic checks (src/spec/checks.ts) -> what tsrun supports (supported.ts) -> host
// checks (host-checks.ts, the rootfs).
// After it, only the typed plan is used, never the raw JSON.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LinuxNamespace, LinuxTimeOffset, Process, Spec } from '../spec/types';
import { checkSpec } from '../spec/checks';
import { matchSpecSchema, validateProcess } from '../spec/validate';
import { TsrunError } from '../errors';
import { checkHostConfig } from './host-checks';
import { checkIntelRdt, hostResctrl } from './intel-rdt';
import { mayHaveIdmappedMounts, mayHaveUnreachableBinds } from './idmap';
import { joinedPidNamespace } from './joined-pid-ns';
import { readJsonFile } from './json-file';
import { checkSupported } from './supported';
import type { UserNamespaceOptions } from './userns';

export interface BundleOptions {
  consoleSocket?: string;
  /** Foreground run: a terminal without a console socket is relayed by us. */
  terminalRelay?: boolean;
  noPivot?: boolean;
  /** The container's id (linux.intelRdt names its group after it). */
  id: string;
}

/** A validated config and what `create` derives from it. */
export interface ContainerPlan {
  bundle: string;
  configFile: string;
  config: Spec;
  /** The rootfs, resolved against the bundle; it exists. */
  rootfs: string;
  /** linux.namespaces: made (no path) or joined (path) around the init's spawn. */
  namespaces: LinuxNamespace[];
  timeOffsets?: Record<string, LinuxTimeOffset>;
  /** A user namespace: made (or joined) first, with the pid/time namespaces it owns. */
  userns?: UserNamespaceOptions;
  /** A pid namespace to join: only tsrun-stage's child enters it (joined-pid-ns.ts). */
  joinedPid?: LinuxNamespace;
  /** Mounts we make and send to the init (idmapped ones, binds it cannot reach, a joined pid ns's proc). */
  sendsMounts: boolean;
  /** With linux.intelRdt: the host's resctrl mount. */
  resctrl?: string;
}

/** <bundle>/config.json through the whole pipeline; throws the first problem found. */
export function loadBundleConfig(bundleDir: string, opts: BundleOptions): ContainerPlan {
  const bundle = path.resolve(bundleDir);
  const configFile = path.join(bundle, 'config.json');
  const config = matchSpecSchema(readJsonFile(configFile), configFile);
  const namespaces = config.linux?.namespaces ?? [];
  const timeOffsets = config.linux?.timeOffsets;
  const userns = userNamespaceFor(config, namespaces, timeOffsets);
  // As runc (rootlessEUIDCheck): without host privileges only a user namespace gives the
  // container a root of its own. First: what a rootless caller must change comes before the rest.
  if (!userns && process.geteuid?.() !== 0) {
    throw new TsrunError(`${configFile}: /linux/namespaces: running as uid ${process.geteuid?.()}, a rootless container needs a user namespace ({"type":"user"} with uidMappings/gidMappings of your ids; see tsrun spec --rootless)`);
  }
  checkSpec(config, configFile);
  checkSupported(config, { consoleSocket: opts.consoleSocket, terminalRelay: opts.terminalRelay });
  const rootfs = path.resolve(bundle, config.root!.path);
  if (!fs.existsSync(rootfs)) throw new TsrunError(`${configFile}: /root/path: rootfs ${rootfs}: no such file or directory`);
  checkHostConfig(config, configFile, rootfs, { noPivot: opts.noPivot });
  const rdt = config.linux?.intelRdt;
  const resctrl = rdt ? hostResctrl() : undefined;
  if (rdt && resctrl) checkIntelRdt(rdt, opts.id, resctrl);
  const joinedPid = joinedPidNamespace(namespaces);
  const sendsMounts = mayHaveIdmappedMounts(config) || mayHaveUnreachableBinds(config, bundle) || !!joinedPid;
  return { bundle, configFile, config, rootfs, namespaces, timeOffsets, userns, joinedPid, sendsMounts, resctrl };
}

function userNamespaceFor(config: Spec, namespaces: LinuxNamespace[], timeOffsets?: Record<string, LinuxTimeOffset>): UserNamespaceOptions | undefined {
  const user = namespaces.find((ns) => ns.type === 'user');
  if (!user) return undefined;
  const isNew = (type: string) => namespaces.some((ns) => ns.type === type && !ns.path);
  return {
    user, uidMappings: config.linux?.uidMappings ?? [], gidMappings: config.linux?.gidMappings ?? [],
    newPid: isNew('pid'), newTime: isNew('time'), timeOffsets,
  };
}

/** `exec --process FILE` ('-': standard input) through the same steps: read, schema, semantic checks. */
export function loadProcessFile(file: string): Process {
  // A file is read as config.json is (a fifo or device refused, not waited on).
  if (file !== '-') return validateProcess(withProcessDefaults(readJsonFile(file)), file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(0, 'utf8'));
  } catch (err) {
    throw new TsrunError(`${file}: ${err instanceof SyntaxError ? `invalid JSON: ${err.message}` : (err as Error).message}`);
  }
  return validateProcess(withProcessDefaults(raw), file);
}

/**
 * runc decodes --process into Go zero values: an omitted user (or uid, gid) is root's 0,
 * an omitted env is empty (the process still gets HOME). cwd stays required, as in runc.
 */
function withProcessDefaults(raw: unknown): unknown {
  if (!isObject(raw)) return raw;
  const user = raw.user ?? {};
  if (!isObject(user)) return raw;
  return { ...raw, user: { ...user, uid: user.uid ?? 0, gid: user.gid ?? 0 } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
