// Argument normalisation shared by the fast path and the full CLI.

/** go-runc passes long flags with one dash (-no-subreaper): read them as --no-subreaper. */
export function normalizeArgs(args: string[]): string[] {
  const out: string[] = [];
  let positionals = 0;
  for (const [i, arg] of args.entries()) {
    if (arg === '--') return [...out, ...args.slice(i)];
    if (/^-[a-z][a-z0-9]+(-[a-z0-9]+)*(=.*)?$/.test(arg) && positionals < 2) out.push(`-${arg}`);
    else out.push(arg);
    // After the subcommand and the container id, the rest belongs to the container (exec).
    if (!arg.startsWith('-')) positionals++;
  }
  return out;
}
