// `run`: create + start; in the foreground, wait and exit with the container's status.
import { constants } from 'node:os';
import * as path from 'node:path';
import { createContainer, CreateOptions } from './create';
import { deleteContainer, startContainer } from './lifecycle';
import { signalInit } from './signal';
import { notifyForwarded } from './notify-socket';
import { logWarning } from '../logging';

/** Signals a foreground `run` passes on to the container, as runc does. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

export async function runContainer(opts: CreateOptions, mode: { detach: boolean; keep: boolean }): Promise<void> {
  const { child, record, console: term } = await createContainer({ ...opts, terminalRelay: !mode.detach });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // A foreground terminal: relay the pty to our stdio from before the process starts.
  const relay = term?.local ? term.startRelay() : undefined;
  try {
    // In the foreground we are the process to watch (runc's MAINPID).
    startContainer(opts.root, opts.id, mode.detach ? undefined : process.pid);
  } catch (err) {
    deleteContainer(opts.root, opts.id, true, path.resolve(opts.bundle));
    throw err;
  }
  if (mode.detach) return;
  child.ref();
  for (const sig of FORWARDED) process.on(sig, () => signalInit(record, constants.signals[sig]));
  const { code, signal } = await exited;
  await relay?.finish();
  await notifyForwarded(); // READY may still be waiting on the container's socket
  if (signal === 'SIGSYS' || code === 128 + constants.signals.SIGSYS) {
    logWarning('the container process was killed by seccomp (SIGSYS): linux.seccomp kills a system call it made');
  }
  if (!mode.keep) deleteContainer(opts.root, opts.id, true, path.resolve(opts.bundle));
  process.exitCode = signal ? 128 + constants.signals[signal] : (code ?? 0);
}
