// Reading the JSON documents tsrun is given (config.json, update --resources FILE,
// exec --process FILE): without blocking, checked before reading, bounded in size and depth.
import * as fs from 'node:fs';
import { O } from '../../bindings';
import { TsrunError } from '../errors';

/** config.json larger than this is refused unread (runc's configs are a few kB). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/**
 * Read and parse a JSON document (config.json, update --resources FILE). Opened without
 * blocking and checked with fstat before reading: a fifo, /dev/zero or a huge file is
 * refused at once instead of hanging or exhausting memory.
 */
export function readJsonFile(file: string): unknown {
  let text: string;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, O.RDONLY | O.NONBLOCK | O.NOCTTY | O.CLOEXEC);
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new TsrunError(`${file}: not a regular file (${fileKind(stat)})`);
    if (stat.size > MAX_CONFIG_BYTES) throw new TsrunError(`${file}: ${stat.size} bytes, larger than the limit of 16 MiB`);
    text = fs.readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof TsrunError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new TsrunError(`${file}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TsrunError(`${file}: invalid JSON: ${(err as Error).message}`);
  }
  const deep = tooDeep(doc);
  if (deep) throw new TsrunError(`${file}: ${deep.slice(0, 60)}${deep.length > 60 ? '...' : ''}: nested more than ${MAX_JSON_DEPTH} levels deep`);
  return doc;
}

/** Deeper than any OCI document: validating or printing such values would overflow the stack. */
export const MAX_JSON_DEPTH = 100;

/** The JSON pointer of a value nested deeper than MAX_JSON_DEPTH, if any (iterative: no recursion). */
function tooDeep(doc: unknown): string | undefined {
  const stack: Array<{ value: unknown; at: string; depth: number }> = [{ value: doc, at: '', depth: 0 }];
  while (stack.length > 0) {
    const { value, at, depth } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return at;
    for (const [k, v] of Object.entries(value)) stack.push({ value: v, at: `${at}/${k}`, depth: depth + 1 });
  }
  return undefined;
}

function fileKind(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a fifo';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a file';
}
