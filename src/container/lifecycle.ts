// start, kill and delete: the commands that act on an existing container.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O } from '../../bindings';
import { TsrunError } from '../errors';
import { runHooksWarnOnly } from './hooks';
import { EXEC_FIFO } from './paths';
import { pidsInContainer, signalInit, sleepMs, waitInitGone } from './signal';
import { Container, initAlive, loadContainer, NoSuchContainer, ociState, statusOf } from './state';
import { openCgroup } from '../cgroups';
import { openNotifySocket } from './notify-socket';

/** `foregroundPid`: a foreground run, the process NOTIFY_SOCKET's MAINPID names (else the init). */
export function startContainer(root: string, id: string, foregroundPid?: number): Container {
  const container = loadContainer(root, id);
  const status = statusOf(container);
  if (status !== 'created') {
    throw new TsrunError(status === 'stopped' ? 'cannot start a container that has stopped' : `cannot start a container in the ${status} state`);
  }
  const record = container.record!;
  const notify = openNotifySocket(container.dir);
  const fifoPath = path.join(container.dir, EXEC_FIFO);
  let fifo: number;
  try {
    fifo = fs.openSync(fifoPath, O.RDONLY | O.NONBLOCK | O.CLOEXEC);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new TsrunError('cannot start an already running container');
    throw err;
  }
  try {
    // The init opens its end once we have opened ours, then writes one byte and execs. It
    // answers within a fraction of a millisecond: poll finely first, then back off to 1 ms.
    const byte = Buffer.alloc(1);
    for (let waited = 0, delay = 0.05; ; waited++, delay = Math.min(delay * 2, 1)) {
      let n = 0;
      try {
        n = fs.readSync(fifo, byte, 0, 1, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
      if (n === 1 && byte[0] === 0x45 /* E */) throw new TsrunError(`container init failed at start: ${readRest(fifo)}`);
      if (n === 1) break;
      if (waited % 20 === 19 && !initAlive(record)) throw new TsrunError('container init exited before start');
      sleepMs(delay);
    }
  } finally {
    fs.closeSync(fifo);
  }
  try {
    fs.unlinkSync(fifoPath);
  } catch {
    // already gone: nothing to remove
  }
  if (record.config.hooks?.poststart?.length) runHooksWarnOnly(record.config, 'poststart', ociState(container));
  if (foregroundPid !== undefined) notify?.forwardInBackground(record, foregroundPid);
  else notify?.forward(record, record.pid);
  return container;
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
  if (status !== 'created' && status !== 'running' && status !== 'paused') throw new TsrunError('container not running');
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
  } else if (!signalInit(record, sig)) throw new TsrunError('container not running');
  // A frozen process dies of SIGKILL only once thawed (v1 freezer).
  if (sig === 9 && status === 'paused') cgroup?.thaw();
}

export function deleteContainer(root: string, id: string, force: boolean): void {
  let container: Container;
  try {
    container = loadContainer(root, id);
  } catch (err) {
    if (force && err instanceof NoSuchContainer) return;
    throw err;
  }
  const status = statusOf(container);
  const record = container.record;
  if (!record) {
    if (!force) throw new TsrunError(`cannot delete container ${id} while it is being created`);
  } else if (status !== 'stopped') {
    if ((status === 'running' || status === 'paused') && !force) {
      throw new TsrunError(`cannot delete container ${id} that is not stopped: ${status}`);
    }
    signalInit(record, 9);
    if (record.cgroup) openCgroup(record.cgroup).thaw();
    if (!waitInitGone(record, 10_000)) throw new TsrunError(`container ${id}: init pid ${record.pid} did not exit after SIGKILL`);
  }
  // Whatever is left in the cgroups (frozen or not) is killed, then every directory removed.
  if (record?.cgroup) openCgroup(record.cgroup).destroy();
  if (record?.config.hooks?.poststop?.length) runHooksWarnOnly(record.config, 'poststop', { ...ociState(container), status: 'stopped', pid: 0 });
  fs.rmSync(container.dir, { recursive: true, force: true });
}

