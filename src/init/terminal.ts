// process.terminal inside the container: open a pty from the container's own devpts (we are
// already in its mount namespace and root), send the master to whoever holds the other end
// of the console socket (one sendmsg, SCM_RIGHTS, payload "/dev/ptmx" as runc sends), then
// make the slave our controlling terminal and stdio.
import * as fs from 'node:fs';
import { O } from '../../bindings';
import { dup2, ioctlInt, ptsNumber, sendFd, setsid, setWinsize, TIOCSCTTY, unlockpt } from '../../bindings/tty';
import type { Box } from '../spec/types';
import { TsrunError } from '../errors';

/**
 * Set up the pty and make it fds 0-2; closes `consoleFd`. Runs on the main thread.
 * `controlling`: also make it our controlling terminal (false when tsrun-stage forks the
 * process, which then does it itself).
 */
export function setupTerminal(consoleFd: number, size: Box | undefined, debug: (msg: string) => void, controlling = true): void {
  const master = openCharDevice('/dev/ptmx', O.RDWR | O.NOCTTY | O.CLOEXEC);
  let slave = -1;
  try {
    unlockpt(master);
    const slavePath = `/dev/pts/${ptsNumber(master)}`;
    slave = openCharDevice(slavePath, O.RDWR | O.NOCTTY | O.CLOEXEC);
    if (size) setWinsize(master, size.height, size.width);
    debug(`terminal ${slavePath}${size ? ` ${size.height}x${size.width}` : ''}`);
    try {
      sendFd(consoleFd, master, '/dev/ptmx');
    } catch (err) {
      throw new TsrunError(`sending the pty master to the console socket: ${(err as Error).message}`);
    }
  } catch (err) {
    if (slave >= 0) fs.closeSync(slave);
    throw err;
  } finally {
    fs.closeSync(master);
    fs.closeSync(consoleFd);
  }
  if (controlling) {
    // Spawned detached, we already lead our own session; setsid only matters otherwise.
    setsid();
    ioctlInt(slave, TIOCSCTTY, 0, 'ioctl(TIOCSCTTY)');
  }
  for (const fd of [0, 1, 2]) dup2(slave, fd);
  if (slave > 2) fs.closeSync(slave);
}

/** Open a path of the container's /dev and insist that it is a character device. */
function openCharDevice(file: string, flags: number): number {
  let fd: number;
  try {
    fd = fs.openSync(file, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TsrunError(`open ${file}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}` +
      (code === 'ENOENT' ? ' (process.terminal needs a devpts mount on /dev/pts in the container)' : ''));
  }
  if (!fs.fstatSync(fd).isCharacterDevice()) {
    fs.closeSync(fd);
    throw new TsrunError(`open ${file}: not a character device`);
  }
  return fd;
}
