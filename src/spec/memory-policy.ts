// linux.memoryPolicy's vocabulary (runtime-spec 1.3): the modes and flags set_mempolicy(2)
// takes, and the node list syntax. Checked by checks.ts, applied by src/init/memory-policy.ts.

export const MPOL_MODES: Record<string, number> = {
  MPOL_DEFAULT: 0, MPOL_PREFERRED: 1, MPOL_BIND: 2, MPOL_INTERLEAVE: 3, MPOL_LOCAL: 4, MPOL_PREFERRED_MANY: 5, MPOL_WEIGHTED_INTERLEAVE: 6,
};
export const MPOL_FLAGS: Record<string, number> = {
  MPOL_F_NUMA_BALANCING: 1 << 13, MPOL_F_RELATIVE_NODES: 1 << 14, MPOL_F_STATIC_NODES: 1 << 15,
};
/** The highest node number a policy may name (the node mask libc.setMempolicy passes). */
export const MAX_NODE = 1023;

/** "0-3,7" -> [0, 1, 2, 3, 7]; undefined when the text is not a node list. */
export function parseNodes(text: string): number[] | undefined {
  if (text === '') return [];
  const nodes: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to > MAX_NODE) return undefined;
    for (let n = from; n <= to; n++) nodes.push(n);
  }
  return nodes;
}
