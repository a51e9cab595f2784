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

/**
 * runc's fixStdioPermissions: fds 0-2 are handed to the process's uid (the group is left to
 * the devpts mount's gid= option, i.e. tty) so that a non-root process can reopen them
 * (/dev/stdout, /proc/self/fd/1) and use its own terminal. Unlike runc, only our pty and
 * pipes or sockets: a regular file or a tty of the host the caller passed keeps its owner.
 * EPERM (an owner not mapped in the user namespace) and EROFS leave it as it is (runc too).
 */
export function fixStdioOwnership(uid: number, ptyOnStdio: boolean): void {
  for (const fd of [0, 1, 2]) {
    let st: fs.Stats;
    try {
      st = fs.fstatSync(fd);
    } catch {
      continue; // closed: nothing to hand over
    }
    const ours = ptyOnStdio ? st.isCharacterDevice() : st.isFIFO() || st.isSocket();
    if (!ours || st.uid === uid) continue;
    try {
      fs.fchownSync(fd, uid, -1);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'EROFS') throw new TsrunError(`giving stdio (fd ${fd}) to uid ${uid}: ${(err as Error).message}`);
    }
  }
}
