// Comparing what a probe printed in a container under runc and under tsrun: the output is
// split at "== name" lines, each line normalised, and every section must be equal.
import type { Test } from 'tap';

/** A probe's output by section ("== name" lines), each line passed through `normalise`. */
export function probeSections(out: string, normalise: (line: string) => string): Map<string, string> {
  const map = new Map<string, string>();
  let name = '';
  for (const raw of out.split('\n')) {
    const head = /^== (\S+)$/.exec(raw);
    if (head) map.set((name = head[1]), '');
    else if (name) map.set(name, `${map.get(name)}${normalise(raw)}\n`);
  }
  return map;
}

/** runc printed all `count` sections, tsrun the same ones, and each as runc did. */
export function sameSections(t: Test, label: string, runc: Map<string, string>, tsrun: Map<string, string>, count: number): void {
  t.equal(runc.size, count, 'runc printed every section');
  t.same([...tsrun.keys()], [...runc.keys()], 'and so did tsrun');
  for (const [section, text] of runc) t.equal(tsrun.get(section), text, `${label}: ${section} as with runc`);
}
