import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CommandModule } from 'yargs';
import { inspectContainer, listState } from '../../container/state';
import { GlobalOptions } from '../context';

type ListArgs = GlobalOptions & { format: 'table' | 'json'; quiet: boolean };

type ListEntry = ReturnType<typeof listState>;

/** Every container under root; one whose state is damaged is listed as "damaged", not hidden. */
export function listStates(root: string): ListEntry[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const states: ListEntry[] = [];
  for (const name of names.sort()) {
    try {
      if (!fs.lstatSync(path.join(root, name)).isDirectory()) continue;
      states.push(listState(inspectContainer(root, name)));
    } catch {
      // not a container directory (no valid id), or removed meanwhile
    }
  }
  return states;
}

export const listCommand: CommandModule<GlobalOptions, ListArgs> = {
  command: ['list', 'ps-all'].slice(0, 1),
  describe: 'list the containers under --root',
  builder: (y) =>
    y
      .option('format', { alias: 'f', choices: ['table', 'json'] as const, default: 'table' as const })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print ids only' }),
  handler: (argv) => {
    const states = listStates(argv.root);
    if (argv.quiet) {
      for (const s of states) process.stdout.write(`${s.id}\n`);
    } else if (argv.format === 'json') {
      process.stdout.write(`${JSON.stringify(states)}\n`);
    } else {
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
        ...states.map((s) => [s.id, String(s.pid ?? 0), s.status, s.bundle, s.created, s.owner])];
      const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i])).join('   ').trimEnd()}\n`);
    }
  },
};
