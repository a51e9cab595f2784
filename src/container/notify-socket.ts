// NOTIFY_SOCKET (sd_notify) through the container, as runc does: `create` bind-mounts the
// state directory's notify/ at /run/notify in the container and sets NOTIFY_SOCKET to
// /run/notify/notify.sock there; `start` (and `run`) binds that socket, starts the process
// and waits until it sends READY=..., then tells the caller's socket that line and
// MAINPID=<the container's init>. podman --sdnotify container relies on it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Spec } from '../spec/types';
import { sleepMs } from './signal';
import { ContainerRecord, initAlive } from './state';
import { logWarning } from '../logging';

/** Loaded when a socket is used: `start` without NOTIFY_SOCKET never pays for ffi-rs. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tty = (): typeof import('../../bindings/tty') => require('../../bindings/tty') as typeof import('../../bindings/tty');

const DIR = 'notify';
const SOCKET = 'notify.sock';
const IN_CONTAINER = '/run/notify';

/** The caller's notify socket, or undefined when there is none. */
function hostSocket(): string | undefined {
  return process.env.NOTIFY_SOCKET || undefined;
}

/** create: the mount and the variable the container gets, and the directory they name. */
export function addNotifySocket(config: Spec, stateDir: string): void {
  if (!hostSocket()) return;
  const dir = path.join(stateDir, DIR);
  fs.mkdirSync(dir, { mode: 0o755 });
  (config.mounts ??= []).push({ destination: IN_CONTAINER, source: dir, type: 'bind', options: ['bind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  const proc = config.process!;
  proc.env = [...(proc.env ?? []).filter((e) => !e.startsWith('NOTIFY_SOCKET=')), `NOTIFY_SOCKET=${IN_CONTAINER}/${SOCKET}`];
}

export interface NotifyRelay {
  /** Wait for READY= from the container (or its end), pass it on with MAINPID; closes the socket. */
  forward(record: ContainerRecord, mainPid: number): void;
  /** The same without blocking (a foreground run relays its terminal meanwhile). */
  forwardInBackground(record: ContainerRecord, mainPid: number): void;
}

/** start: bind the container's socket (before the process runs, so no message is lost). */
export function openNotifySocket(stateDir: string): NotifyRelay | undefined {
  const host = hostSocket();
  const dir = path.join(stateDir, DIR);
  if (!host || !fs.existsSync(dir)) return undefined;
  const file = path.join(dir, SOCKET);
  fs.rmSync(file, { force: true });
  const { datagramSocket, sendDatagram } = tty();
  const fd = datagramSocket(file);
  fs.chmodSync(file, 0o777); // any user of the container may notify
  const close = () => {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  };
  const tell = (ready: string, mainPid: number) => {
    const out = datagramSocket();
    try {
      sendDatagram(out, host, Buffer.from(`${ready}\n`));
      sendDatagram(out, host, Buffer.from(`MAINPID=${mainPid}\n`));
    } finally {
      fs.closeSync(out);
    }
  };
  return {
    forward(record, mainPid) {
      try {
        for (let i = 0; ; i++) {
          const ready = readyLine(fd);
          if (ready !== undefined) return tell(ready, mainPid);
          // The init's liveness, every 100 ms as runc: a container that ends first has nothing to tell.
          if (i % 100 === 99 && !initAlive(record)) return;
          sleepMs(1);
        }
      } finally {
        close();
      }
    },
    forwardInBackground(record, mainPid) {
      let done = () => {};
      background = new Promise<void>((resolve) => (done = resolve));
      const poll = () => {
        try {
          const ready = readyLine(fd);
          if (ready === undefined && initAlive(record)) {
            setTimeout(poll, 10);
            return;
          }
          if (ready !== undefined) tell(ready, mainPid);
        } catch (err) {
          logWarning(`NOTIFY_SOCKET: ${(err as Error).message}`);
        }
        close();
        done();
      };
      poll();
    },
  };
}

let background: Promise<void> = Promise.resolve();
/** Resolves when a forwardInBackground has told the caller (or given up): a run awaits it before exiting. */
export function notifyForwarded(): Promise<void> {
  return background;
}

/** The READY=... line of the datagrams waiting, if one has it. */
function readyLine(fd: number): string | undefined {
  for (let msg = tty().recvDatagram(fd); msg; msg = tty().recvDatagram(fd)) {
    const line = msg.toString('utf8').split('\n').find((l) => l.startsWith('READY='));
    if (line !== undefined) return line;
  }
  return undefined;
}
