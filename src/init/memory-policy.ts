// linux.memoryPolicy (runtime-spec 1.3): set_mempolicy(2) on the init's main thread just
// before it execs tsrun-stage. The policy is per thread, kept across execve and inherited
// across fork, so it reaches the container's process (and what it forks).
import { libc } from '../../bindings';
import { TsrunError } from '../errors';
import type { LinuxMemoryPolicy } from '../spec/types';
import { MPOL_FLAGS, MPOL_MODES, parseNodes } from '../spec/memory-policy';

/** Applies a policy the config checks accepted. */
export function applyMemoryPolicy(policy: LinuxMemoryPolicy | undefined): void {
  if (!policy) return;
  const flags = (policy.flags ?? []).reduce((all, f) => all | MPOL_FLAGS[f], 0);
  try {
    libc().setMempolicy(MPOL_MODES[policy.mode] | flags, parseNodes(policy.nodes ?? '') ?? []);
  } catch (err) {
    throw new TsrunError(`linux.memoryPolicy (${policy.mode} nodes ${JSON.stringify(policy.nodes ?? '')}): ${(err as Error).message}`);
  }
}
