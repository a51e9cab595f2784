// --help, written from the table (table.ts): what it lists is exactly what the parser takes.
import { COMMANDS, CommandDef, FlagDef, GLOBAL_FLAGS } from './table';

const USAGE = 'tsrun [global options] <command> [options] [arguments]';
const ABOUT = 'An OCI container runtime in TypeScript, driven like runc.';

/** The help of one command, or of tsrun when `command` is undefined. */
export function helpText(command?: string): string {
  const def = command === undefined ? undefined : (COMMANDS as Record<string, CommandDef>)[command];
  if (!def) {
    const rows = Object.entries(COMMANDS).map(([name, d]: [string, CommandDef]) => [`tsrun ${name}${d.args ? ` ${d.args}` : ''}`, d.describe]);
    return [USAGE, '', ABOUT, '', 'Commands:', ...table(rows), '', 'Global options:', ...flagRows(GLOBAL_FLAGS), ''].join('\n');
  }
  const lines = [`tsrun ${command} [options]${def.args ? ` ${def.args}` : ''}`, '', def.describe, ''];
  if (def.flags.length > 0) lines.push('Options:', ...flagRows(def.flags), '');
  lines.push('Global options:', ...flagRows(GLOBAL_FLAGS), '');
  return lines.join('\n');
}

function flagRows(flags: FlagDef[]): string[] {
  return table(flags.map((f) => {
    const names = [...(f.aliases ?? []), f.name].sort((a, b) => a.length - b.length).map((n) => (n.length === 1 ? `-${n}` : `--${n}`));
    const notes = [f.repeat ? 'repeatable' : '', f.default !== undefined ? `default: ${f.default}` : ''].filter(Boolean);
    return [`${names.join(', ')}${f.value ? ` ${f.value}` : ''}`, `${f.describe}${notes.length ? ` (${notes.join('; ')})` : ''}`];
  }));
}

/** Two columns, the first padded to its widest entry. */
function table(rows: string[][]): string[] {
  const width = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`);
}
