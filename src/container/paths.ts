// Where a container's state lives, and which ids are acceptable (runc's rules).
import * as path from 'node:path';
import { describeValue, TsrunError, UsageError } from '../errors';
import { runningInUserNamespace } from '../procfs';

export const DEFAULT_ROOT = '/run/tsrun';
export const STATE_FILE = 'state.json';
/** What `create` must undo, recorded before it makes it (see RecoveryRecord). */
export const RECOVERY_FILE = 'recovery.json';

const ID_PATTERN = /^[\w+\-.]+$/;
/** The id names the state directory and the default cgroup: one file name (NAME_MAX). */
export const MAX_ID_LENGTH = 255;

export function checkId(id: unknown): string {
  if (typeof id !== 'string' || id === '') throw new UsageError('container id cannot be empty');
  if (!ID_PATTERN.test(id) || id === '.' || id === '..') {
    throw new UsageError(`invalid container id ${describeValue(id)}: use letters, digits and _ + - . only`);
  }
  if (id.length > MAX_ID_LENGTH) {
    throw new UsageError(`invalid container id ${describeValue(id)}: ${id.length} characters, at most ${MAX_ID_LENGTH}`);
  }
  return id;
}

export function containerDir(root: string, id: string): string {
  return path.join(root, checkId(id));
}

/**
 * The state root when --root is not given, for every command.
 * As runc (main.go, shouldHonorXDGRuntimeDir): $XDG_RUNTIME_DIR/tsrun when XDG_RUNTIME_DIR
 * is set and we are not real root (euid != 0, or euid 0 in a user namespace with $USER
 * unset or not "root"); otherwise /run/tsrun, also for a user without XDG_RUNTIME_DIR
 * (create then fails with a message naming XDG_RUNTIME_DIR and --root).
 */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (!xdg || !honorsXdgRuntimeDir(env)) return DEFAULT_ROOT;
  return path.join(xdg, 'tsrun');
}

/**
 * The state root every command uses: --root, or the default, made absolute against our
 * working directory at start-up (as runc does), so that it names the same directory
 * whatever create does to its working directory later.
 */
export function stateRoot(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(given ?? defaultRoot(env));
}

function honorsXdgRuntimeDir(env: NodeJS.ProcessEnv): boolean {
  if (process.geteuid?.() !== 0) return true;
  if (!runningInUserNamespace()) return false;
  return env.USER === undefined || env.USER !== 'root';
}

/**
 * A state root an unprivileged user may not use (runc's default /run/runc behaves the same
 * for a user without XDG_RUNTIME_DIR): say how to choose another. Undefined for other errors.
 */
export function stateRootRefused(root: string, err: unknown): Error | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  const euid = process.geteuid?.();
  if ((code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') || euid === 0) return undefined;
  const how = process.env.XDG_RUNTIME_DIR ? 'pass --root DIR' : 'set XDG_RUNTIME_DIR (tsrun then uses $XDG_RUNTIME_DIR/tsrun) or pass --root DIR';
  return new TsrunError(`state root ${root}: permission denied (${code}) for uid ${euid}: ${how}`);
}
