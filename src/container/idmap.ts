// Idmapped mounts (mount options "idmap"/"ridmap", per-mount uidMappings/gidMappings), made
// the way runc makes them: on the host side, by the runtime, as detached mounts the init
// then attaches in the container's mount namespace.
//
//   tsrun create                                        container init
//     open_tree(source, OPEN_TREE_CLONE [| AT_RECURSIVE for rbind])
//     mount_setattr(fd, MOUNT_ATTR_IDMAP, userns fd
//       [| AT_RECURSIVE for ridmap])
//     sendmsg(SCM_RIGHTS, "<mount index>") ---------->  recvmsg, in config order
//                                                       move_mount(fd -> destination)
//                                                       remount flags, propagation
//
// The user namespace carrying the mapping is the container's own (a mount without mappings:
// /proc/<init>/ns/user, or the path it joins), or, for a mount with its own mappings, a
// `tsrun-userns hold` process we put in a new user namespace and write the maps of (one per
// distinct mapping, gone as soon as its namespace fd is open).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AT_EMPTY_PATH, AT_RECURSIVE, libc, MOUNT_ATTR_IDMAP, MS, O, OPEN_TREE_CLONE, SysError } from '../../bindings';
import { sendFd } from '../../bindings/tty';
import type { LinuxIDMapping, Mount, Spec } from '../spec/types';
import { ConfigError, describeValue, TsrunError } from '../errors';
import { isBindMount, isIdmapped, parseMountOptions } from '../spec/mount-options';
import { pointer } from '../spec/checks';
import { unescapeMountPath } from '../procfs';
import { mapText, requireTrampoline, TRAMPOLINE } from './userns';

/** Lenient, on the config before validation: does any mount ask for an idmapping? */
export function mayHaveIdmappedMounts(raw: unknown): boolean {
  const mounts = (raw as { mounts?: unknown })?.mounts;
  if (!Array.isArray(mounts)) return false;
  return mounts.some((m) => {
    if (typeof m !== 'object' || m === null) return false;
    const options = (m as { options?: unknown }).options;
    return 'uidMappings' in m || 'gidMappings' in m || (Array.isArray(options) && options.some((o) => o === 'idmap' || o === 'ridmap'));
  });
}

/**
 * Bind sources the init may not reach: with a user namespace the init is not host root, and
 * a directory above the source that others cannot search (0700, host-owned) stops it. As
 * runc opens such sources before the switch, we clone them (open_tree) and send them with
 * the idmapped mounts. Lenient, on the config before validation too.
 */
export function mayHaveUnreachableBinds(raw: unknown, bundle: string): boolean {
  return unreachableBinds(raw as Spec, bundle).length > 0;
}

function unreachableBinds(config: Spec, bundle: string): number[] {
  const namespaces = config?.linux?.namespaces;
  const mounts = config?.mounts;
  if (!Array.isArray(namespaces) || !namespaces.some((ns) => ns?.type === 'user') || !Array.isArray(mounts)) return [];
  if (process.geteuid?.() !== 0) return [];
  const rootMapping = Array.isArray(config.linux?.uidMappings) ? config.linux.uidMappings.find((m) => m?.containerID === 0) : undefined;
  const hostRoot = typeof rootMapping?.hostID === 'number' ? rootMapping.hostID : undefined;
  return mounts.flatMap((m, index) => {
    if (typeof m !== 'object' || m === null || typeof m.source !== 'string' || isIdmapped(m)) return [];
    if (!Array.isArray(m.options ?? []) || !isBindMount(m)) return [];
    return behindClosedDirectory(path.resolve(bundle, m.source), hostRoot) ? [index] : [];
  });
}

/**
 * Is some directory above p closed to the container's root (host uid hostRoot): not
 * searchable by others, nor owned by hostRoot and searchable by its owner?
 */
function behindClosedDirectory(p: string, hostRoot: number | undefined): boolean {
  for (let dir = path.dirname(p); ; dir = path.dirname(dir)) {
    try {
      const st = fs.statSync(dir);
      const passable = (st.mode & 0o001) !== 0 || (st.uid === hostRoot && (st.mode & 0o100) !== 0);
      if (!passable) return true;
    } catch {
      return false; // the mount itself reports a missing source
    }
    if (dir === '/') return false;
  }
}

/** Is any mount point (in our mountinfo) strictly under the directory p? */
function hasMountsUnder(p: string): boolean {
  const real = fs.realpathSync(p);
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .some((point) => point.startsWith(`${real}/`));
}

/** How one mount is idmapped: recursive tree (rbind) and recursive mapping (ridmap). */
export interface IdmapPlan {
  source: string;
  recursiveTree: boolean;
  recursiveIdmap: boolean;
}

export function idmapPlan(m: Mount, bundle: string): IdmapPlan {
  const options = parseMountOptions(m.options);
  return {
    // Relative bind sources are relative to the bundle, as in runc.
    source: path.resolve(bundle, m.source ?? ''),
    recursiveTree: (options.flags & MS.REC) !== 0,
    recursiveIdmap: options.idmap === 'ridmap',
  };
}

/**
 * A detached copy of the mount at plan.source, idmapped through the user namespace
 * usernsFd: an fd the init can move_mount(2) onto the destination. Errors name the call.
 */
export function openIdmappedMount(plan: IdmapPlan, usernsFd: number): number {
  const sys = libc();
  const fd = sys.openTree(-100 /* AT_FDCWD */, plan.source, OPEN_TREE_CLONE | O.CLOEXEC | (plan.recursiveTree ? AT_RECURSIVE : 0));
  try {
    sys.mountSetattr(fd, '', AT_EMPTY_PATH | (plan.recursiveIdmap ? AT_RECURSIVE : 0), { attrSet: MOUNT_ATTR_IDMAP, usernsFd });
  } catch (err) {
    fs.closeSync(fd);
    if (err instanceof SysError && err.code === 'EINVAL') {
      throw new TsrunError(`${err.message}: the filesystem of ${plan.source} (or of a mount under it) may not support idmapped mounts`);
    }
    throw err;
  }
  return fd;
}

export interface SendIdmappedOptions {
  config: Spec;
  configFile: string;
  bundle: string;
  /** Our end of the socket the init receives the mounts on. */
  socket: number;
  /** The container's user namespace (a path to open), for mounts without mappings of their own. */
  containerUserns?: string;
}

/**
 * Make every idmapped mount of the config and send each to the init (SCM_RIGHTS, named by
 * its index in config.mounts), in config order. Our copies are closed: once the init has
 * attached them they live in its mount namespace; if it never does, they go with the socket.
 */
export async function sendIdmappedMounts(opts: SendIdmappedOptions): Promise<void> {
  const unreachable = new Set(unreachableBinds(opts.config, opts.bundle));
  for (const index of unreachable) {
    const m = opts.config.mounts![index];
    const plan = idmapPlan(m, opts.bundle);
    // A clone is attached unlocked: the container could unmount a submount of it and see
    // what it covers on the host. Without submounts the single mount is the whole tree.
    if (plan.recursiveTree && hasMountsUnder(plan.source)) {
      throw new TsrunError(
        `mount ${m.destination}: bind source ${plan.source} is behind a directory the container's user namespace cannot search, and has mounts under it: tsrun cannot bind it with those mounts locked (make the directories above it searchable)`,
      );
    }
    let fd: number;
    try {
      fd = libc().openTree(-100 /* AT_FDCWD */, plan.source, OPEN_TREE_CLONE | O.CLOEXEC);
    } catch (err) {
      throw new TsrunError(`mount ${m.destination} (bind from ${plan.source}): ${(err as Error).message}`);
    }
    try {
      sendFd(opts.socket, fd, String(index));
    } finally {
      fs.closeSync(fd);
    }
  }
  const mounts = (opts.config.mounts ?? []).map((m, index) => ({ m, index })).filter(({ m }) => isIdmapped(m));
  if (mounts.length === 0) return;
  if (process.geteuid?.() !== 0) {
    throw new ConfigError(opts.configFile, pointer('mounts', mounts[0].index), 'idmapped mounts need tsrun to run as root (as in runc, rootless containers cannot have them)');
  }
  const namespaces = new Map<string, number>();
  try {
    for (const { m, index } of mounts) {
      const usernsFd = await usernsFor(m, index, opts, namespaces);
      let fd: number;
      try {
        fd = openIdmappedMount(idmapPlan(m, opts.bundle), usernsFd);
      } catch (err) {
        throw new TsrunError(`mount ${m.destination} (idmapped bind from ${m.source}): ${(err as Error).message}`);
      }
      try {
        sendFd(opts.socket, fd, String(index));
      } finally {
        fs.closeSync(fd);
      }
    }
  } finally {
    for (const fd of namespaces.values()) fs.closeSync(fd);
  }
}

/** The user namespace fd a mount is mapped through (opened once per distinct mapping). */
async function usernsFor(m: Mount, index: number, opts: SendIdmappedOptions, cache: Map<string, number>): Promise<number> {
  const own = m.uidMappings?.length && m.gidMappings?.length;
  const key = own ? JSON.stringify([m.uidMappings, m.gidMappings]) : 'container';
  const known = cache.get(key);
  if (known !== undefined) return known;
  let fd: number;
  if (own) {
    const at = (key: string) => `${opts.configFile}: ${pointer('mounts', index, key)}`;
    fd = await mappedUserNamespace(m.uidMappings!, m.gidMappings!, { uid: at('uidMappings'), gid: at('gidMappings') });
  } else {
    // Checked by the config checks: without mappings the container has a user namespace.
    if (!opts.containerUserns) throw new TsrunError(`mount ${m.destination}: idmap without mappings needs the container's user namespace`);
    fd = fs.openSync(opts.containerUserns, O.RDONLY | O.CLOEXEC);
  }
  cache.set(key, fd);
  return fd;
}

/**
 * An fd of a new user namespace with these maps: `tsrun-userns hold` unshares one and
 * waits; we write its maps, open /proc/<pid>/ns/user and let it go.
 */
export async function mappedUserNamespace(uids: LinuxIDMapping[], gids: LinuxIDMapping[], labels = { uid: 'uidMappings', gid: 'gidMappings' }): Promise<number> {
  requireTrampoline();
  const helper = spawn(TRAMPOLINE, ['hold'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => {
    helper.once('close', () => resolve());
    helper.once('error', () => resolve());
  });
  let stderr = '';
  helper.stderr!.setEncoding('utf8');
  helper.stderr!.on('data', (d: string) => (stderr += d));
  try {
    await new Promise<void>((resolve, reject) => {
      helper.once('error', reject);
      helper.stdout!.once('data', () => resolve());
      helper.once('exit', (code, signal) => reject(new Error(stderr.trim() || `exited (${signal ?? `status ${code}`})`)));
    });
  } catch (err) {
    helper.kill('SIGKILL');
    await exited;
    throw new TsrunError(`user namespace for an idmapped mount: ${(err as Error).message}`);
  }
  try {
    const write = (file: string, maps: LinuxIDMapping[], label: string) => {
      try {
        fs.writeFileSync(`/proc/${helper.pid}/${file}`, mapText(maps));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new TsrunError(`${label}: the kernel refused ${describeValue(maps)} for an idmapped mount (writing ${file}: ${code === 'EINVAL' ? 'invalid argument: overlapping or out-of-range ids' : (err as Error).message})`);
      }
    };
    write('uid_map', uids, labels.uid);
    write('gid_map', gids, labels.gid);
    return fs.openSync(`/proc/${helper.pid}/ns/user`, O.RDONLY | O.CLOEXEC);
  } catch (err) {
    helper.kill('SIGKILL');
    throw err;
  } finally {
    helper.stdin!.end();
    await exited;
  }
}
