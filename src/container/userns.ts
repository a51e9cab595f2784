// User namespaces. Node cannot unshare or join one (it is multithreaded: docs/design-notes.md),
// so the one single-threaded step is a tiny C program built with tsrun (dist/tsrun-userns,
// from bindings/userns-trampoline.c), spawned in place of node:
//
//   tsrun create ── spawn ──> tsrun-userns init (single-threaded)
//                              unshare(CLONE_NEWUSER) or setns(userns fd)   "U" ──>
//     <── writes /proc/<pid>/uid_map, setgroups, gid_map (newuidmap/newgidmap
//         when rootless with ranges)                                          "G"
//                              unshare(CLONE_NEWPID [| CLONE_NEWTIME])       "N" ──>
//     <── writes timens_offsets                                               "G"
//                              fork ──> setresgid/setgroups/setresuid(0), exec node init
//                              "P<pid>" ──>  (the Node init: pid 1 of a pid namespace
//                              waits for it, exits       owned by the user namespace;
//                              with its status           it unshares the rest itself)
//
// The waiter keeps the init's exit visible to us (a foreground `run` waits on it) and dies
// with us (PR_SET_PDEATHSIG): after `create` the init is reparented to the caller's
// subreaper exactly as without a user namespace. Only tsrun's files (read-only, see
// runtime-protection) and the host's node run with host privileges; nothing from the
// container's filesystem does.
import { ChildProcess, spawnSync } from 'node:child_process';
import type { Duplex } from 'node:stream';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLONE } from '../../bindings';
import { TsrunError } from '../errors';
import { isNsfs } from './host-checks';
import type { LinuxIDMapping, LinuxNamespace } from '../spec/types';

/** Next to the bundled CLI in dist/. */
export const TRAMPOLINE = path.join(__dirname, 'tsrun-userns');

export interface UserNamespaceOptions {
  user: LinuxNamespace;
  /** No user namespace at all: tsrun-userns only makes the pid (and time) namespace (JOIN_FD -2). */
  none?: boolean;
  uidMappings: LinuxIDMapping[];
  gidMappings: LinuxIDMapping[];
  newPid: boolean;
  newTime: boolean;
  timeOffsets?: Record<string, { secs?: number; nanosecs?: number }>;
}

/** For tsrun exec into a container with a user namespace: joined by the trampoline. */
export interface JoinUserNamespace {
  user: number;
  time?: number;
  /** Rootless: the pid namespace too, joined by the trampoline after the user namespace, then it forks. */
  pid?: number;
}

export function trampolineAvailable(): boolean {
  return fs.existsSync(TRAMPOLINE);
}

export function requireTrampoline(): void {
  if (!trampolineAvailable()) {
    throw new TsrunError(
      `user namespaces need ${TRAMPOLINE}, built by "npm run build" with a C compiler (apt-get install gcc libc6-dev, then rebuild)`,
    );
  }
}

/** The namespace fd (or -1) and flags `tsrun-userns init` is given. */
export function openUserNamespace(opts: UserNamespaceOptions): { joinFd: number; flags: number } {
  requireTrampoline();
  let joinFd = -1;
  if (opts.none) {
    joinFd = -2;
  } else if (opts.user.path) {
    try {
      joinFd = fs.openSync(opts.user.path, 'r');
    } catch (err) {
      throw new TsrunError(`user namespace path ${opts.user.path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    // Checked here: tsrun-userns's setns would fail with a bare EINVAL on its own line.
    // A bind-mounted (pinned) namespace names its mount point there: nsfs, the join checks the type.
    const kind = fs.readlinkSync(`/proc/self/fd/${joinFd}`);
    if (!kind.startsWith('user:[') && !(kind.startsWith('/') && isNsfs(opts.user.path))) {
      fs.closeSync(joinFd);
      throw new TsrunError(`user namespace path ${opts.user.path}: not a user namespace (${kind})`);
    }
  } else if (opts.uidMappings.length === 0 || opts.gidMappings.length === 0) {
    throw new TsrunError('linux.uidMappings/gidMappings: a new user namespace needs both mappings');
  }
  return { joinFd, flags: (opts.newPid ? CLONE.NEWPID : 0) | (opts.newTime ? CLONE.NEWTIME : 0) };
}

/**
 * Our side of the handshake with `tsrun-userns init` (spawned as `waiter`, `sync` our end
 * of its sync socket): resolves with the init's pid. `tsrun-userns join` (opts undefined)
 * only sends "P<pid>".
 */
export function userNamespaceHandshake(waiter: ChildProcess, sync: Duplex, opts: UserNamespaceOptions | undefined): Promise<number> {
  let stderr = '';
  waiter.stderr?.setEncoding('utf8');
  waiter.stderr?.on('data', (d: string) => (stderr += d));
  return new Promise<number>((resolve, reject) => {
    let done = false;
    let buffered = '';
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      sync.destroy();
      reject(err);
    };
    waiter.once('exit', (code, signal) => {
      setImmediate(() => fail(new TsrunError(`setting up the user namespace: ${stderr.trim() || `helper exited (${signal ?? `status ${code}`})`}`)));
    });
    sync.on('error', () => {});
    sync.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      try {
        while (buffered.length && !done) {
          const c = buffered[0];
          if (c === 'U' && opts) {
            if (!opts.user.path && !opts.none) writeIdMaps(waiter.pid!, opts.uidMappings, opts.gidMappings);
            sync.write('G');
          } else if (c === 'N' && opts) {
            if (opts.newTime) writeTimeOffsets(waiter.pid!, opts.timeOffsets ?? {});
            sync.write('G');
          } else if (c === 'E') {
            // The helper's one-line error ("tsrun-userns: what: why"); it exits next.
            const nl = buffered.indexOf('\n');
            if (nl < 0) return;
            fail(new TsrunError(buffered.slice(1, nl)));
            return;
          } else if (c === 'P') {
            const nl = buffered.indexOf('\n');
            if (nl < 0) return;
            done = true;
            sync.destroy();
            resolve(Number(buffered.slice(1, nl)));
            return;
          } else {
            throw new Error(`unexpected byte ${JSON.stringify(c)} from the helper`);
          }
          buffered = buffered.slice(1);
        }
      } catch (err) {
        fail(err instanceof TsrunError ? err : new TsrunError(`setting up the user namespace: ${(err as Error).message}`));
      }
    });
  });
}

export function mapText(maps: LinuxIDMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/**
 * As runc: root writes the maps itself (setgroups stays "allow"). An unprivileged user
 * writes a map that is exactly its own id (a gid map after writing "deny" to setgroups,
 * which the kernel requires); anything else goes through newuidmap/newgidmap (shadow's
 * setuid helpers, Debian's "uidmap", checked against /etc/subuid and /etc/subgid).
 */
export function writeIdMaps(pid: number, uids: LinuxIDMapping[], gids: LinuxIDMapping[]): void {
  const euid = process.geteuid!();
  const egid = process.getegid!();
  const write = (file: string, text: string, what: string) => {
    try {
      fs.writeFileSync(`/proc/${pid}/${file}`, text);
    } catch (err) {
      throw new TsrunError(`${what}: writing ${file} (${text.trim().replace(/\n/g, ', ')}): ${(err as Error).message}`);
    }
  };
  if (euid === 0) {
    write('uid_map', mapText(uids), 'linux.uidMappings');
    write('gid_map', mapText(gids), 'linux.gidMappings');
    return;
  }
  if (ownIdOnly(uids, euid)) write('uid_map', mapText(uids), 'linux.uidMappings');
  else helper('newuidmap', pid, uids, 'linux.uidMappings');
  if (ownIdOnly(gids, egid)) {
    write('setgroups', 'deny', 'linux.gidMappings');
    write('gid_map', mapText(gids), 'linux.gidMappings');
  } else {
    helper('newgidmap', pid, gids, 'linux.gidMappings');
  }
}

/** A single mapping of one's own id, which the kernel lets an unprivileged user write. */
export function ownIdOnly(maps: LinuxIDMapping[], id: number): boolean {
  return maps.length === 1 && maps[0].size === 1 && maps[0].hostID === id;
}

function helperExists(name: string): boolean {
  return ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].some((d) => fs.existsSync(path.join(d, name)));
}

function helper(name: string, pid: number, maps: LinuxIDMapping[], what: string): void {
  if (!helperExists(name)) {
    throw new TsrunError(`${what}: mapping more than your own id needs ${name} (apt-get install uidmap) and ranges in /etc/sub${name === 'newuidmap' ? 'uid' : 'gid'}`);
  }
  const args = [String(pid), ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
  const r = spawnSync(name, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new TsrunError(`${what}: ${name} ${args.join(' ')}: ${(r.stderr || r.error?.message || `status ${r.status}`).trim()}`);
  }
}

function writeTimeOffsets(pid: number, offsets: Record<string, { secs?: number; nanosecs?: number }>): void {
  const lines = Object.entries(offsets).map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}`);
  if (lines.length === 0) return;
  try {
    fs.writeFileSync(`/proc/${pid}/timens_offsets`, lines.join('\n'));
  } catch (err) {
    throw new TsrunError(`linux.timeOffsets: ${(err as Error).message}`);
  }
}
