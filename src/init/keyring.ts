// A session keyring of the container's own (runc's default; --no-new-keyring keeps the
// caller's): without it the container's processes could read and add to the keys of the
// session that started tsrun. keyctl acts on the calling thread's credentials: called on the
// main thread, whose credentials execve (tsrun-stage, then the user's process) keeps.
import { libc } from '../../bindings';

const ENOSYS = 38;
/** Added to the new keyring's permissions: the owner uid (in a user namespace: anyone) may search it. */
const SEARCH_BY_UID = 0x80000;
const SEARCH_BY_OTHER = 0x8;

/** Join (create, or find by name) the session keyring `name`; its serial, or undefined without keyrings. */
export function joinSessionKeyring(name: string, warn: (msg: string) => void): number | undefined {
  try {
    return libc().joinSessionKeyring(name);
  } catch (err) {
    // Best effort, as runc: a kernel without keyrings says ENOSYS.
    if ((err as { errno?: number }).errno !== ENOSYS) throw err;
    warn(`session keyring: ${(err as Error).message}`);
    return undefined;
  }
}

/** The init's new keyring, made searchable so that `exec` can join it by name. */
export function makeSessionKeyring(name: string, userns: boolean, warn: (msg: string) => void): void {
  const key = joinSessionKeyring(name, warn);
  if (key === undefined) return;
  const sys = libc();
  const perm = parseInt(sys.keyDescribe(key).split(';')[3], 16);
  sys.keySetperm(key, perm | (userns ? SEARCH_BY_OTHER : SEARCH_BY_UID));
}
