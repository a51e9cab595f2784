// Logs: errors and warnings go to stderr and, with --log, to the log file as text or as
// one JSON object per line ({"level","msg","time"}), the form engines read back.
import * as fs from 'node:fs';
import createDebug from 'debug';

export interface LogOptions {
  file?: string;
  format?: 'text' | 'json';
  debug?: boolean;
}

let options: LogOptions = {};

export function configureLog(opts: LogOptions): void {
  options = opts;
  // DEBUG=tsrun:* works as with any `debug` user; --debug turns the same namespaces on.
  if (opts.debug) createDebug.enable('tsrun:*');
  if (opts.file) createDebug.log = (...args: unknown[]) => write('debug', args.map(String).join(' '));
}

export function debugEnabled(): boolean {
  return createDebug.enabled('tsrun:create');
}

function write(level: 'error' | 'warning' | 'info' | 'debug', msg: string): void {
  if (!options.file) return;
  const time = new Date().toISOString();
  const line = options.format === 'json'
    ? JSON.stringify({ level, msg, time })
    : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
  try {
    fs.appendFileSync(options.file, `${line}\n`);
  } catch {
    // A log we cannot write must not hide the real outcome.
  }
}

export function logError(msg: string): void {
  write('error', msg);
  process.stderr.write(`tsrun: ${msg}\n`);
}

/** Warnings go to --log when there is one (as with runc), else to stderr. */
export function logWarning(msg: string): void {
  if (options.file) write('warning', msg);
  else process.stderr.write(`tsrun: warning: ${msg}\n`);
}

/** A debug logger for one part of tsrun (namespace tsrun:<scope>). */
export function debugLog(scope: string): (msg: string) => void {
  const d = createDebug(`tsrun:${scope}`);
  return (msg) => d(msg);
}
