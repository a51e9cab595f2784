// --pid-file of create, run and exec: checked before anything is made, then written as runc
// does (a hidden temp file next to the target, renamed over it) without leaving the temp behind.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsrunError } from '../errors';

/** Fail early, naming the flag and path, when the pid file could not be written. */
export function checkPidFile(file: string): void {
  const target = path.resolve(file);
  let isDir = false;
  try {
    isDir = fs.statSync(target).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw pidFileError(file, err);
  }
  if (isDir) throw new TsrunError(`--pid-file ${file}: is a directory`);
  let parentIsDir = false;
  try {
    parentIsDir = fs.statSync(path.dirname(target)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw pidFileError(file, err);
  }
  if (!parentIsDir) throw new TsrunError(`--pid-file ${file}: directory ${path.dirname(target)} does not exist`);
}

export function writePidFile(file: string, pid: number): void {
  checkPidFile(file);
  const target = path.resolve(file);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp`);
  try {
    writeExclusive(tmp, String(pid));
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw pidFileError(file, err);
  }
}

/** O_EXCL: never through a symlink planted at the temp name; a stale temp of a killed run is replaced. */
function writeExclusive(tmp: string, text: string): void {
  try {
    fs.writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    fs.rmSync(tmp, { force: true });
    fs.writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 });
  }
}

function pidFileError(file: string, err: unknown): TsrunError {
  const e = err as NodeJS.ErrnoException;
  const why = e.code === 'EISDIR' ? 'is a directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
  return new TsrunError(`--pid-file ${file}: ${why}`);
}
