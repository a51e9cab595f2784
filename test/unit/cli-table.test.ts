// The one table of flags (src/cli/table.ts) is what the parser takes, what go-runc's
// single-dash forms are read as, what --help lists and what is dispatched (issue 14): walk
// every command and every flag of it, so that none can exist in one place and not another.
import t from 'tap';
import { normalizeArgs } from '../../src/cli/args';
import { parseArgs } from '../../src/cli/parse';
import { helpText } from '../../src/cli/help';
import { COMMANDS, CommandDef, FlagDef, GLOBAL_FLAGS } from '../../src/cli/table';
import { FAST_COMMANDS } from '../../src/cli/fast';
import { SPAWNING_COMMANDS } from '../../src/cli/spawning';
import { SLOW_COMMANDS } from '../../src/cli/main';

const commands = Object.entries(COMMANDS) as Array<[string, CommandDef]>;
/** Enough arguments for the command. */
const argsOf = (def: CommandDef) => Array.from({ length: def.min }, (_, i) => `arg${i}`);
/** Every way to write the flag: --name, each alias (-x or --long), and go-runc's -name. */
const spellings = (f: FlagDef) => [`--${f.name}`, `-${f.name}`, ...(f.aliases ?? []).map((a) => (a.length === 1 ? `-${a}` : `--${a}`))];
const valueOf = (f: FlagDef) => f.choices?.[f.choices.length - 1] ?? 'some-value';
const dashed = (n: string) => (n.length === 1 ? `-${n}` : `--${n}`);

t.test('every command is run by exactly one bundle', async (t) => {
  const handled = [...Object.keys(FAST_COMMANDS), ...Object.keys(SPAWNING_COMMANDS), ...Object.keys(SLOW_COMMANDS)];
  t.same(handled.sort(), Object.keys(COMMANDS).sort());
});

for (const [name, def] of commands) {
  t.test(`${name}: every flag in the table is parsed, in every spelling, and listed by --help`, async (t) => {
    const help = helpText(name);
    for (const [f, where] of [...def.flags.map((f) => [f, 'flags'] as const), ...GLOBAL_FLAGS.filter((g) => !def.flags.some((f) => f.name === g.name)).map((f) => [f, 'globals'] as const)]) {
      if (f.name === 'help' || f.name === 'version') continue;
      for (const spelled of spellings(f)) {
        // Before the arguments and after them (exec and ps take what follows the id as theirs).
        const places = def.rest ? [[spelled]] : [[spelled], ['after']];
        for (const place of places) {
          const flagArgs = f.value ? [spelled, valueOf(f)] : [spelled];
          const args = place[0] === 'after' ? [name, ...argsOf(def), ...flagArgs] : [name, ...flagArgs, ...argsOf(def)];
          const parsed = parseArgs(normalizeArgs(args));
          const got = parsed[where][f.name];
          t.same(got, f.value ? (f.repeat ? [valueOf(f)] : valueOf(f)) : true, `tsrun ${args.join(' ')}`);
          t.same(parsed.positionals, argsOf(def), `tsrun ${args.join(' ')}: the arguments are intact`);
        }
      }
      for (const n of [f.name, ...(f.aliases ?? [])]) t.match(help, new RegExp(`(^|[ ,])${dashed(n)}[ ,\\n]`, 'm'), `--help lists ${dashed(n)}`);
    }
  });

  t.test(`${name}: flags of other commands are refused`, async (t) => {
    const own = new Set([...def.flags, ...GLOBAL_FLAGS].flatMap((f) => [f.name, ...(f.aliases ?? [])]));
    const others = new Set(commands.flatMap(([, d]) => d.flags).flatMap((f) => [f.name, ...(f.aliases ?? [])]).filter((n) => !own.has(n)));
    for (const n of others) {
      const args = [name, dashed(n), ...argsOf(def)];
      t.throws(() => parseArgs(normalizeArgs(args)), /flag provided but not defined/, `tsrun ${args.join(' ')}`);
    }
  });
}

t.test('--help lists every command', async (t) => {
  const help = helpText();
  for (const [name] of commands) t.match(help, new RegExp(`^  tsrun ${name}\\b`, 'm'), name);
  t.notMatch(help, /^\s*\.\s*$/m, 'no line that is only a "."');
});
