import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultSpec } from '../../spec/default-config';
import { TsrunError } from '../../errors';
import { Invocation, stringFlag } from '../context';

/**
 * spec [-b DIR] [--rootless]: a default config.json, never over an existing one. runc's
 * `spec --rootless` is a boolean; `--rootless true` before the command (the global flag) too.
 */
export function specCommand(inv: Invocation): void {
  const file = path.join(stringFlag(inv, 'bundle') ?? '.', 'config.json');
  if (fs.existsSync(file)) throw new TsrunError(`File ${file} exists. Remove it first`);
  const rootless = inv.flags.rootless === true || inv.globals.rootless === 'true';
  try {
    fs.writeFileSync(file, `${JSON.stringify(defaultSpec(rootless), null, 2)}\n`, { flag: 'wx' });
  } catch (err) {
    throw new TsrunError(`${file}: ${(err as Error).message}`);
  }
}
