// Logs: errors and warnings go to stderr and, with --log, to the log file as text or as
// one JSON object per line ({"level","msg","time"}, and "kind" for errors: docs/errors.md),
// the form engines read back.
import * as fs from 'node:fs';
import type { Debugger } from 'debug';

export interface LogOptions {
  file?: string;
  format?: 'text' | 'json';
  debug?: boolean;
}

let options: LogOptions = {};

export function configureLog(opts: LogOptions): void {
  options = opts;
  if (!opts.debug && !/tsrun/.test(process.env.DEBUG ?? '')) return;
  // The `debug` package (it pulls in tty and net) is loaded only when debugging is on.
  // DEBUG=tsrun:* works as with any `debug` user; --debug turns the same namespaces on.
  createDebug = require('debug') as typeof import('debug');
  if (opts.debug) createDebug.enable('tsrun:*');
  if (!opts.debug && !opts.file) return; // DEBUG=tsrun:* alone: the debug package's own format
  // runc's shape (tools read it): one `time=... level=debug msg=...` line (or JSON object) per
  // message, to --log or else stderr; the namespace leads the message, no second timestamp.
  createDebug.formatArgs = function formatArgs(this: Debugger, args: unknown[]) {
    args[0] = `${this.namespace}: ${String(args[0])}`;
  };
  createDebug.log = (...args: unknown[]) => write('debug', args.map(String).join(' '), true);
}

let createDebug: typeof import('debug') | undefined;

/** Whether log lines are written to a file named by path (--log), not to an fd. */
export function logsToFile(): boolean {
  return options.file !== undefined;
}

/** A line to --log; `orStderr`: to stderr when there is no --log. */
function write(level: 'error' | 'warning' | 'info' | 'debug', msg: string, orStderr = false, kind?: string): void {
  if (!options.file && !orStderr) return;
  const time = new Date().toISOString();
  const line = options.format === 'json'
    ? JSON.stringify({ level, msg, time, kind })
    : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
  if (!options.file) {
    writeFd(2, `${line}\n`);
    return;
  }
  try {
    fs.appendFileSync(options.file, `${line}\n`);
  } catch {
    // A log we cannot write must not hide the real outcome.
  }
}

/**
 * Write straight to an fd: process.stdout/stderr would load Node's stream, tty and net
 * machinery, a few ms of every short command.
 */
export function writeFd(fd: 1 | 2, text: string): void {
  const data = Buffer.from(text);
  for (let off = 0; off < data.length; ) {
    try {
      off += fs.writeSync(fd, data, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
  }
}

/** `kind`: the error's kind (src/errors.ts), a field of the JSON line. */
export function logError(msg: string, kind?: string): void {
  write('error', msg, false, kind);
  writeFd(2, `tsrun: ${msg}\n`);
}

/** Warnings go to --log when there is one (as with runc), else to stderr. */
export function logWarning(msg: string): void {
  if (options.file) write('warning', msg);
  else writeFd(2, `tsrun: warning: ${msg}\n`);
}

/** A debug logger for one part of tsrun (namespace tsrun:<scope>); a no-op unless enabled. */
export function debugLog(scope: string): (msg: string) => void {
  let d: Debugger | undefined;
  return (msg) => {
    if (!createDebug) return;
    d ??= createDebug(`tsrun:${scope}`);
    d(msg);
  };
}
