// The runtime's side of process.terminal. With --console-socket we connect to the caller's
// socket and hand the connection to the init, which sends the pty master there. Without
// one (foreground `run` / `exec` with a terminal) we make a socketpair, receive the master
// ourselves and relay it to our own stdio: raw mode when stdin is a terminal, window size
// changes (SIGWINCH -> TIOCSWINSZ), until the process's output ends.
import * as fs from 'node:fs';
import { connectUnix, recvFd, setWinsize, socketpair } from '../../bindings/tty';
import { TsrunError } from '../errors';

export interface ConsoleRelay {
  /** Resolves once the pty output has ended (or shortly after the process exited). */
  finish(): Promise<void>;
}

export interface Console {
  /** The fd to pass to the init (it becomes the init's console socket). */
  readonly childEnd: number;
  /** True when we keep the other end and relay the terminal ourselves. */
  readonly local: boolean;
  /** Close our copy of childEnd once the init has its own. */
  dropChildEnd(): void;
  /** Close everything we still hold. */
  close(): void;
  /** Receive the master (already sent by the init) and relay it to our stdio. */
  startRelay(): ConsoleRelay;
}

export function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

export function openConsole(socketPath?: string): Console {
  if (socketPath !== undefined) {
    let fd: number;
    try {
      fd = connectUnix(socketPath);
    } catch (err) {
      throw new TsrunError(`--console-socket ${socketPath}: ${(err as Error).message}`);
    }
    let open = true;
    const drop = () => {
      if (open) closeFd(fd);
      open = false;
    };
    return {
      childEnd: fd,
      local: false,
      dropChildEnd: drop,
      close: drop,
      startRelay: () => {
        throw new Error('the terminal belongs to the console socket');
      },
    };
  }
  const [ours, theirs] = socketpair();
  let theirsOpen = true;
  let oursOpen = true;
  const dropChildEnd = () => {
    if (theirsOpen) closeFd(theirs);
    theirsOpen = false;
  };
  return {
    childEnd: theirs,
    local: true,
    dropChildEnd,
    close() {
      dropChildEnd();
      if (oursOpen) closeFd(ours);
      oursOpen = false;
    },
    startRelay() {
      let master: number;
      try {
        master = recvFd(ours, false).fd;
      } finally {
        closeFd(ours);
        oursOpen = false;
      }
      return relay(master);
    },
  };
}

function relay(master: number): ConsoleRelay {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const resize = () => {
    if (!stdout.isTTY) return;
    const [cols, rows] = stdout.getWindowSize();
    try {
      setWinsize(master, rows, cols);
    } catch {
      // the pty is gone
    }
  };
  resize();
  const rawBefore = stdin.isTTY ? stdin.isRaw : undefined;
  if (stdin.isTTY) stdin.setRawMode(true);
  process.on('SIGWINCH', resize);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tty = require('node:tty') as typeof import('node:tty'); // terminals only: not loaded by every create
  const pty = new tty.ReadStream(master);
  const ended = new Promise<void>((resolve) => {
    pty.once('end', resolve);
    pty.once('close', resolve);
    pty.once('error', () => resolve()); // EIO once the last slave fd is closed
  });
  pty.pipe(stdout, { end: false });
  stdin.pipe(pty, { end: false });
  return {
    async finish() {
      // Output written just before the exit is still in the pty: drain it, but do not hang
      // when something else in the container keeps the slave open.
      await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
      process.off('SIGWINCH', resize);
      stdin.unpipe(pty);
      if (stdin.isTTY) stdin.setRawMode(!!rawBefore);
      stdin.pause();
      pty.destroy();
      await new Promise<void>((resolve) => (stdout.writableNeedDrain ? stdout.once('drain', resolve) : resolve()));
    },
  };
}

/**
 * create/run: what process.terminal needs before the init is spawned (read leniently from
 * the unvalidated config): a connection to --console-socket, or with `relay` (foreground
 * run) a socketpair whose master end we relay. Mismatches are refused by checkSupported.
 */
export function consoleForCreate(raw: unknown, consoleSocket: string | undefined, relay: boolean): Console | undefined {
  const terminal = (raw as { process?: { terminal?: unknown } } | undefined)?.process?.terminal === true;
  if (!terminal) return undefined;
  if (consoleSocket !== undefined) return openConsole(consoleSocket);
  return relay ? openConsole() : undefined;
}
