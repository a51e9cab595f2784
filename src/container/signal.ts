// Signals by name (KILL, SIGKILL, sigkill) or number, and delivery to a container's init
// through a pidfd, so a recycled pid can never receive the signal.
import * as fs from 'node:fs';
import { libc } from '../../bindings';
import { TsrunError } from '../errors';
import { ContainerRecord } from './state';
import { startTime } from '../procfs';

/** A process by pid and the start time it had when recorded. */
type InitRef = Pick<ContainerRecord, 'pid' | 'initStartTime'>;

/** Signal numbers by name, loaded on first use (state and start never need node:os). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const signals = (): Record<string, number> => (require('node:os') as typeof import('node:os')).constants.signals as Record<string, number>;

export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    // 0 sends nothing: `kill ID 0` only checks that the init is alive (as with kill(1)).
    if (n >= 0 && n <= 64) return n;
  } else {
    const upper = text.toUpperCase();
    const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
    const byName = signals();
    if (name in byName) return byName[name];
    const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
    const offset = Number(rt?.[1] ?? 0);
    // Real-time signals run from SIGRTMIN (34) to SIGRTMAX (64).
    if (rt && offset <= 30) return name.startsWith('SIGRTMIN') ? 34 + offset : 64 - offset;
  }
  throw new TsrunError(`invalid signal ${JSON.stringify(text)}: use a name such as TERM or SIGKILL, or a number from 0 to 64`);
}

export function signalName(sig: number): string {
  const byName = signals();
  return Object.keys(byName).find((name) => byName[name] === sig) ?? String(sig);
}

/** Signal the init if it is still the process `create` started; false if it is gone. */
export function signalInit(record: InitRef, sig: number): boolean {
  let pidfd: number;
  try {
    pidfd = libc().pidfdOpen(record.pid);
  } catch {
    return false;
  }
  try {
    // Checked after pidfd_open: from here on the fd pins the process we verified.
    if (startTime(record.pid) !== record.initStartTime) return false;
    libc().pidfdSendSignal(pidfd, sig);
    return true;
  } finally {
    fs.closeSync(pidfd);
  }
}

/** Host pids of every process in the init's pid namespace (empty when it has none of its own). */
export function pidsInContainer(record: ContainerRecord): number[] {
  let initNs: string;
  try {
    initNs = fs.readlinkSync(`/proc/${record.pid}/ns/pid`);
  } catch {
    return [];
  }
  if (initNs === fs.readlinkSync('/proc/self/ns/pid')) return [record.pid];
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/ns/pid`) === initNs) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
export function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Wait until the init has exited (a zombie counts); false on timeout. */
export function waitInitGone(record: InitRef, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; Date.now() < deadline; delay = Math.min(delay * 2, 50)) {
    if (startTime(record.pid) !== record.initStartTime) return true;
    sleepMs(delay);
  }
  return false;
}
