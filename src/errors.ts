// Error types. Every error tsrun reports ends as exit 1 with one line on stderr and,
// with --log, one log line. The text keeps runc's wording where engines grep it (the list:
// docs/errors.md); the kind says what failed without parsing the text, travels from the
// container init to create/exec as a field of the error message (errorRecord), and is the
// "kind" of a JSON log line.

/**
 * config: the config.json (or process.json, --resources) asks for something wrong.
 * usage: the command line is wrong (an unknown flag, a missing argument).
 * state: the container is not in a status that allows the command.
 * not-found / already-exists: a container id (or the process's executable) is missing / taken.
 * host: the host refused or failed (a system call, a file, a limit): the default.
 */
export type ErrorKind = 'config' | 'usage' | 'state' | 'not-found' | 'already-exists' | 'host';

/** The subclasses keep the name TsrunError (tests and callers match it); `kind` tells them apart. */
export class TsrunError extends Error {
  override name = 'TsrunError';
  readonly kind: ErrorKind = 'host';
}

/** An invalid config.json (or process.json): names the file, the JSON path and the value. */
export class ConfigError extends TsrunError {
  override name = 'ConfigError';
  override readonly kind = 'config';
  constructor(
    readonly file: string,
    readonly jsonPath: string,
    readonly detail: string,
  ) {
    super(`${file}: ${jsonPath || '/'}: ${detail}`);
  }
}

/** A wrong command line (the CLI adds "(see tsrun --help)"). */
export class UsageError extends TsrunError {
  override readonly kind = 'usage';
}

/** The container's status does not allow the command ("container not running"). */
export class StateError extends TsrunError {
  override readonly kind = 'state';
}

/** No such container ("container does not exist"), or no such executable in the container. */
export class NotFoundError extends TsrunError {
  override readonly kind = 'not-found';
}

/** The container id is taken ("container with id X already exists"). */
export class AlreadyExistsError extends TsrunError {
  override readonly kind = 'already-exists';
}

const KINDS: readonly string[] = ['config', 'usage', 'state', 'not-found', 'already-exists', 'host'];

/**
 * The kind of any thrown value: an error that is not tsrun's own came from the host. Read
 * from the field, not with instanceof: the CLI's bundles (entry.js, cli.js) each hold a
 * copy of these classes.
 */
export function kindOf(err: unknown): ErrorKind {
  const kind = (err as { kind?: unknown } | undefined)?.kind;
  return err instanceof Error && typeof kind === 'string' && KINDS.includes(kind) ? (kind as ErrorKind) : 'host';
}

/**
 * An error as it crosses the control socket (init or exec-init -> create or exec, and
 * tsrun-stage's {"type":"error","msg"} lines, which carry no kind: host).
 */
export interface ErrorRecord {
  msg: string;
  kind?: ErrorKind;
  /** ConfigError's parts. */
  file?: string;
  jsonPath?: string;
  detail?: string;
}

export function errorRecord(err: unknown): ErrorRecord {
  const msg = err instanceof Error ? err.message : String(err);
  const kind = kindOf(err);
  if (kind !== 'config') return { msg, kind };
  const { file, jsonPath, detail } = err as ConfigError;
  return { msg, kind, file, jsonPath, detail };
}

/** The error again, of its kind's class, its text after `context` ("unable to start container process: "). */
export function errorFromRecord(record: ErrorRecord, context = ''): TsrunError {
  const { msg, kind, file, jsonPath, detail } = record;
  let err: TsrunError;
  if (kind === 'config' && file !== undefined && jsonPath !== undefined && detail !== undefined) err = new ConfigError(file, jsonPath, detail);
  else if (kind === 'usage') err = new UsageError(msg);
  else if (kind === 'state') err = new StateError(msg);
  else if (kind === 'not-found') err = new NotFoundError(msg);
  else if (kind === 'already-exists') err = new AlreadyExistsError(msg);
  else err = new TsrunError(msg);
  err.message = `${context}${msg}`;
  return err;
}

/** Describe a JSON value briefly for an error message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
