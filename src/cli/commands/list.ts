import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspectContainer, listState } from '../../container/state';
import { writeFd } from '../../logging';
import { Invocation } from '../context';

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

/** list [--format table|json] [-q]: the containers under --root. */
export function listCommand(inv: Invocation): void {
  const states = listStates(inv.root);
  if (inv.flags.quiet === true) {
    writeFd(1, states.map((s) => `${s.id}\n`).join(''));
  } else if (inv.flags.format === 'json') {
    writeFd(1, `${JSON.stringify(states)}\n`);
  } else {
    const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
      ...states.map((s) => [s.id, String(s.pid ?? 0), s.status, s.bundle, s.created, s.owner])];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    writeFd(1, rows.map((r) => `${r.map((c, i) => c.padEnd(widths[i])).join('   ').trimEnd()}\n`).join(''));
  }
}
