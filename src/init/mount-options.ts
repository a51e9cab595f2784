// config.json mount options -> mount(2) flags, propagation flags and the data string.
import { MS } from '../../bindings/constants';
import { TsrunError } from '../errors';
import type { Mount } from '../spec/types';

/** Options that set (or, with clear=true, clear) a mount flag. */
const FLAG_OPTIONS: Record<string, { flag: number; clear?: true }> = {
  defaults: { flag: 0 },
  ro: { flag: MS.RDONLY },
  rw: { flag: MS.RDONLY, clear: true },
  nosuid: { flag: MS.NOSUID },
  suid: { flag: MS.NOSUID, clear: true },
  nodev: { flag: MS.NODEV },
  dev: { flag: MS.NODEV, clear: true },
  noexec: { flag: MS.NOEXEC },
  exec: { flag: MS.NOEXEC, clear: true },
  sync: { flag: MS.SYNCHRONOUS },
  async: { flag: MS.SYNCHRONOUS, clear: true },
  dirsync: { flag: MS.DIRSYNC },
  remount: { flag: MS.REMOUNT },
  mand: { flag: MS.MANDLOCK },
  nomand: { flag: MS.MANDLOCK, clear: true },
  noatime: { flag: MS.NOATIME },
  atime: { flag: MS.NOATIME, clear: true },
  nodiratime: { flag: MS.NODIRATIME },
  diratime: { flag: MS.NODIRATIME, clear: true },
  relatime: { flag: MS.RELATIME },
  norelatime: { flag: MS.RELATIME, clear: true },
  strictatime: { flag: MS.STRICTATIME },
  nostrictatime: { flag: MS.STRICTATIME, clear: true },
  lazytime: { flag: MS.LAZYTIME },
  nolazytime: { flag: MS.LAZYTIME, clear: true },
  nosymfollow: { flag: MS.NOSYMFOLLOW },
  symfollow: { flag: MS.NOSYMFOLLOW, clear: true },
  silent: { flag: MS.SILENT },
  loud: { flag: MS.SILENT, clear: true },
  bind: { flag: MS.BIND },
  rbind: { flag: MS.BIND | MS.REC },
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/**
 * Idmapped mounts (mount_setattr MOUNT_ATTR_IDMAP, made by the runtime: see
 * src/container/idmap.ts); "ridmap" maps the submounts of an rbind too. Never passed to mount(2).
 */
const IDMAP_OPTIONS: Record<string, 'idmap' | 'ridmap'> = { idmap: 'idmap', ridmap: 'ridmap' };

/** Options runc knows that tsrun does not implement yet: refused rather than ignored. */
const UNSUPPORTED = new Set([
  'tmpcopyup',
  // Recursive flags (mount_setattr with AT_RECURSIVE).
  'rro', 'rrw', 'rnosuid', 'rsuid', 'rnodev', 'rdev', 'rnoexec', 'rexec', 'rnoatime', 'ratime',
  'rnodiratime', 'rdiratime', 'rrelatime', 'rnorelatime', 'rstrictatime', 'rnostrictatime',
  'rnosymfollow', 'rsymfollow',
]);

export interface ParsedMountOptions {
  flags: number;
  propagation: number[];
  data: string;
  /** "idmap" or "ridmap" when the options ask for an idmapped mount (the last one wins). */
  idmap?: 'idmap' | 'ridmap';
}

export function parseMountOptions(options: string[] = []): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let idmap: ParsedMountOptions['idmap'];
  for (const option of options) {
    const known = FLAG_OPTIONS[option];
    if (known) {
      flags = known.clear ? flags & ~known.flag : flags | known.flag;
    } else if (option in PROPAGATION_OPTIONS) {
      propagation.push(PROPAGATION_OPTIONS[option]);
    } else if (option in IDMAP_OPTIONS) {
      idmap = IDMAP_OPTIONS[option];
    } else if (UNSUPPORTED.has(option)) {
      throw new TsrunError(`mount option "${option}" is not supported by tsrun yet`);
    } else {
      data.push(option);
    }
  }
  return { flags, propagation, data: data.join(','), ...(idmap ? { idmap } : {}) };
}

export const ROOTFS_PROPAGATION: Record<string, number> = PROPAGATION_OPTIONS;

export const KNOWN_MOUNT_OPTIONS = [...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION_OPTIONS), ...Object.keys(IDMAP_OPTIONS)];

/** A bind mount: type "bind", or a "bind"/"rbind" option. */
export function isBindMount(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/**
 * An idmapped mount: an "idmap"/"ridmap" option, or mappings of its own (which imply
 * "idmap", as in runc).
 */
export function isIdmapped(m: Mount): boolean {
  return m.uidMappings !== undefined || m.gidMappings !== undefined || (m.options ?? []).some((o) => o in IDMAP_OPTIONS);
}
