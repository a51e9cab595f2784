// Where a container's state lives, and which ids are acceptable (runc's rules).
import * as path from 'node:path';
import { TsrunError } from '../errors';

export const DEFAULT_ROOT = '/run/tsrun';
export const STATE_FILE = 'state.json';
export const EXEC_FIFO = 'exec.fifo';

const ID_PATTERN = /^[\w+\-.]+$/;

export function checkId(id: unknown): string {
  if (typeof id !== 'string' || id === '') throw new TsrunError('container id cannot be empty');
  if (!ID_PATTERN.test(id) || id === '.' || id === '..' || id.length > 1024) {
    throw new TsrunError(`invalid container id ${JSON.stringify(id)}: use letters, digits and _ + - . only`);
  }
  return id;
}

export function containerDir(root: string, id: string): string {
  return path.join(root, checkId(id));
}
