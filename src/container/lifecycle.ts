// start, kill and delete: the commands that act on an existing container.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O } from '../../bindings';
import { StateError, TsrunError } from '../errors';
import { runHooks, runHooksWarnOnly } from '../hooks';
import { EXEC_FIFO } from '../protocol/init-protocol';
import { pidsInContainer, signalInit, sleepMs, waitInitGone } from './signal';
import { Container, damagedError, initAlive, inspectContainer, loadContainer, NoSuchContainer, ociState, statusOf } from './state';
import { defaultCgroup } from './cgroup';
import { removeIntelRdt } from './intel-rdt';
import { openCgroup } from '../cgroups';
import { openNotifySocket } from './notify-socket';

/** `foregroundPid`: a foreground run, the process NOTIFY_SOCKET's MAINPID names (else the init). */
export function startContainer(root: string, id: string, foregroundPid?: number): Container {
  const container = loadContainer(root, id);
  const status = statusOf(container);
  if (status !== 'created') {
    throw new StateError(status === 'stopped' ? 'cannot start a container that has stopped' : `cannot start a container in the ${status} state`);
  }
  const record = container.record!;
  const notify = openNotifySocket(container.dir);
  const fifoPath = path.join(container.dir, EXEC_FIFO);
  let fifo: number;
  try {
    fifo = fs.openSync(fifoPath, O.RDONLY | O.NONBLOCK | O.CLOEXEC);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StateError('cannot start an already running container');
    throw err;
  }
  try {
    // The init opens its end once we have opened ours, then writes one byte and execs. It
    // answers within a fraction of a millisecond: poll finely first, then back off to 1 ms.
    const byte = Buffer.alloc(1);
    for (let waited = 0, delay = 0.05; ; waited++, delay = Math.min(delay * 2, 1)) {
      const n = readNow(fifo, byte);
      if (n === 1 && byte[0] === 0x45 /* E */) throw new TsrunError(`container init failed at start: ${readRest(fifo)}`);
      if (n === 1) break;
      if (waited % 20 === 19 && !initAlive(record)) throw new TsrunError('container init exited before start');
      sleepMs(delay);
    }
    // Its end stays open (close-on-exec) until its execve: EOF says the process runs, so
    // poststart hooks see it (runtime-spec: after the user-specified process is executed).
    for (let delay = 0.05; ; delay = Math.min(delay * 2, 1)) {
      const n = readNow(fifo, byte);
      if (n === 0) break;
      if (n === 1 && byte[0] === 0x45) throw new TsrunError(`container init failed at start: ${readRest(fifo)}`);
      if (n === undefined) sleepMs(delay);
    }
  } finally {
    fs.closeSync(fifo);
  }
  try {
    fs.unlinkSync(fifoPath);
  } catch {
    // already gone: nothing to remove
  }
  if (record.config.hooks?.poststart?.length) {
    try {
      runHooks(record.config, 'poststart', ociState(container), record.bundle); // in the bundle, as runc
    } catch (err) {
      // runtime-spec 1.3: a failing poststart hook fails start and stops the container (runc kills it).
      signalInit(record, 9);
      waitInitGone(record, 10_000);
      throw err;
    }
  }
  if (foregroundPid !== undefined) notify?.forwardInBackground(record, foregroundPid);
  else notify?.forward(record, record.pid);
  return container;
}

/** One non-blocking read: bytes read (0: no writer left), undefined when nothing is there yet. */
function readNow(fifo: number, buf: Buffer): number | undefined {
  try {
    return fs.readSync(fifo, buf, 0, buf.length, null);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return undefined;
    throw err;
  }
}

/** What the init wrote after "E" (a startContainer hook failed), until it closed the fifo. */
function readRest(fifo: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (let waited = 0; waited < 5000; waited++) {
    let n: number;
    try {
      n = fs.readSync(fifo, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') break;
      sleepMs(1);
      continue;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}

export function killContainer(root: string, id: string, sig: number, all: boolean): void {
  const container = loadContainer(root, id);
  const status = statusOf(container);
  if (status !== 'created' && status !== 'running' && status !== 'paused') throw new StateError('container not running');
  const record = container.record!;
  const cgroup = record.cgroup ? openCgroup(record.cgroup) : undefined;
  if (all) {
    // Every process of the cgroup (also those outside the init's pid namespace).
    for (const pid of cgroup ? cgroup.pids() : pidsInContainer(record)) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone already
      }
    }
  } else if (!signalInit(record, sig)) throw new StateError('container not running');
  // A frozen process dies of SIGKILL only once thawed (v1 freezer).
  if (sig === 9 && status === 'paused') cgroup?.thaw();
}

/** `hooksCwd`: where poststop runs (`run`: the bundle, as runc; `delete`: our own directory). */
export function deleteContainer(root: string, id: string, force: boolean, hooksCwd?: string): void {
  let container: Container;
  try {
    container = inspectContainer(root, id);
  } catch (err) {
    if (force && err instanceof NoSuchContainer) return;
    throw err;
  }
  const record = container.record;
  if (!record) {
    if (container.damaged && !force) throw damagedError(container);
    if (!force) throw new StateError(`cannot delete container ${id} while it is being created`);
    removeUnrecorded(container);
    return;
  }
  const status = statusOf(container);
  if (status !== 'stopped') {
    if ((status === 'running' || status === 'paused') && !force) {
      throw new StateError(`cannot delete container ${id} that is not stopped: ${status}`);
    }
    signalInit(record, 9);
    if (record.cgroup) openCgroup(record.cgroup).thaw();
    if (!waitInitGone(record, 10_000)) throw new TsrunError(`container ${id}: init pid ${record.pid} did not exit after SIGKILL`);
  }
  // Whatever is left in the cgroups (frozen or not) is killed, then every directory removed.
  if (record.cgroup) openCgroup(record.cgroup).destroy();
  removeIntelRdt(record.intelRdt);
  if (record.config.hooks?.poststop?.length) runHooksWarnOnly(record.config, 'poststop', { ...ociState(container), status: 'stopped', pid: 0 }, hooksCwd);
  fs.rmSync(container.dir, { recursive: true, force: true });
}

/**
 * A container without a usable state.json (create interrupted, or the file damaged): kill
 * the processes recovery.json names (by pidfd, start time checked) and remove the cgroups it
 * names. Without a recovery record but with traces of one, the cgroups are found where a
 * container of this id gets them by default. Its config is unknown: no poststop hooks run.
 */
function removeUnrecorded(container: Container): void {
  const { recovery } = container;
  const processes = (recovery?.processes ?? []).map((p) => ({ pid: p.pid, initStartTime: p.start }));
  for (const proc of processes) signalInit(proc, 9);
  const cgroup = recovery ? recovery.cgroup : leftTraces(container.dir) ? defaultCgroup(container.id) : undefined;
  if (cgroup) openCgroup(cgroup).thaw();
  for (const proc of processes) {
    if (!waitInitGone(proc, 10_000)) throw new TsrunError(`container ${container.id}: pid ${proc.pid} did not exit after SIGKILL`);
  }
  if (cgroup) openCgroup(cgroup).destroy();
  removeIntelRdt(recovery?.intelRdt);
  fs.rmSync(container.dir, { recursive: true, force: true });
}

/** Whether the state dir holds anything (a state or recovery file, a fifo): create got past its first step. */
function leftTraces(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}
