import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CommandModule } from 'yargs';
import { defaultSpec } from '../../spec/default-config';
import { TsrunError } from '../../errors';
import { GlobalOptions } from '../context';

type SpecArgs = Omit<GlobalOptions, 'rootless'> & { bundle: string; rootless: boolean };

export const specCommand: CommandModule<GlobalOptions, SpecArgs> = {
  command: 'spec',
  describe: 'write a default config.json into the bundle directory',
  builder: (y) =>
    y
      .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'where to write config.json' })
      .option('rootless', { type: 'boolean', default: false, describe: 'a config for an unprivileged user' }) as never,
  handler: (argv) => {
    const file = path.join(argv.bundle, 'config.json');
    if (fs.existsSync(file)) throw new TsrunError(`File ${file} exists. Remove it first`);
    try {
      fs.writeFileSync(file, `${JSON.stringify(defaultSpec(argv.rootless), null, 2)}\n`, { flag: 'wx' });
    } catch (err) {
      throw new TsrunError(`${file}: ${(err as Error).message}`);
    }
  },
};
