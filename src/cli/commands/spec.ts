import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CommandModule } from 'yargs';
import { defaultSpec } from '../../spec/default-config';
import { TsrunError } from '../../errors';
import { GlobalOptions } from '../context';

type SpecArgs = GlobalOptions & { bundle: string };

export const specCommand: CommandModule<GlobalOptions, SpecArgs> = {
  command: 'spec',
  describe: 'write a default config.json into the bundle directory',
  builder: (y) =>
    y
      .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'where to write config.json' })
      .epilog('With --rootless (no value, or true) the config is for an unprivileged user.'),
  handler: (argv) => {
    const file = path.join(argv.bundle, 'config.json');
    if (fs.existsSync(file)) throw new TsrunError(`File ${file} exists. Remove it first`);
    try {
      fs.writeFileSync(file, `${JSON.stringify(defaultSpec(wantsRootless(process.argv.slice(2))), null, 2)}\n`, { flag: 'wx' });
    } catch (err) {
      throw new TsrunError(`${file}: ${(err as Error).message}`);
    }
  },
};

/**
 * `spec --rootless` is runc's boolean form of a global flag that otherwise takes a value
 * (true|false|auto); yargs cannot tell the two apart, so read the raw arguments.
 */
function wantsRootless(args: string[]): boolean {
  const i = args.findIndex((a) => /^--?rootless(=|$)/.test(a));
  if (i < 0) return false;
  const value = args[i].includes('=') ? args[i].split('=')[1] : args[i + 1];
  return value === undefined || value.startsWith('-') || value === 'true';
}
