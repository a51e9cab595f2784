import * as fs from 'node:fs';
import { dropZeros, parseBytes, updateContainer, updateContainerIntelRdt } from '../../container/cgroup-ops';
import { readJsonFile } from '../../container/json-file';
import type { LinuxResources } from '../../spec/types';
import { TsrunError } from '../../errors';
import { containerId, Invocation } from '../context';

/** update's flags by name (runc's spellings; --cpu-shares also read, as tests pass it). */
type UpdateArgs = Record<string, string | number | boolean | string[] | undefined>;

/** The LinuxResources an update asks for: --resources JSON (zeros = unset), or else the flags (as runc). */
export function resourcesFromArgs(argv: UpdateArgs, stdin: () => string = () => fs.readFileSync(0, 'utf8')): LinuxResources {
  let r: LinuxResources = {};
  if (argv.resources !== undefined) {
    const where = argv.resources === '-' ? 'standard input' : String(argv.resources);
    if (argv.resources === '-') {
      try {
        r = JSON.parse(stdin()) as LinuxResources;
      } catch (err) {
        throw new TsrunError(`--resources ${where}: ${err instanceof SyntaxError ? 'invalid JSON: ' : ''}${(err as Error).message}`);
      }
    } else {
      // Like config.json: a fifo, a device or a huge file is refused unread.
      try {
        r = readJsonFile(String(argv.resources)) as LinuxResources;
      } catch (err) {
        throw new TsrunError(`--resources ${(err as Error).message}`);
      }
    }
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw new TsrunError(`--resources ${where}: expected a LinuxResources JSON object`);
    return lifted(dropZeros(r));
  }
  const mem = (k: keyof NonNullable<LinuxResources['memory']>, flag: string) => {
    const v = argv[flag];
    if (v === undefined) return;
    (r.memory ??= {})[k] = parseBytes(String(v), flag) as never;
  };
  mem('limit', 'memory');
  mem('swap', 'memory-swap');
  mem('reservation', 'memory-reservation');
  mem('kernel', 'kernel-memory');
  mem('kernelTCP', 'kernel-memory-tcp');
  const num = (flag: string): number | undefined => {
    const v = argv[flag];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new TsrunError(`--${flag}: invalid value ${JSON.stringify(v)}, expected an integer`);
    return n;
  };
  const cpu = (k: keyof NonNullable<LinuxResources['cpu']>, v: number | string | undefined) => {
    if (v !== undefined) (r.cpu ??= {})[k] = v as never;
  };
  cpu('shares', num('cpu-share') ?? num('cpu-shares'));
  cpu('quota', num('cpu-quota'));
  cpu('burst', num('cpu-burst'));
  cpu('period', num('cpu-period'));
  cpu('realtimePeriod', num('cpu-rt-period'));
  cpu('realtimeRuntime', num('cpu-rt-runtime'));
  cpu('idle', num('cpu-idle'));
  cpu('cpus', argv['cpuset-cpus'] as string | undefined);
  cpu('mems', argv['cpuset-mems'] as string | undefined);
  const pids = num('pids-limit');
  if (pids !== undefined) r.pids = { limit: pids };
  const weight = num('blkio-weight');
  if (weight !== undefined) r.blockIO = { ...(r.blockIO ?? {}), weight };
  return lifted(r);
}

/** runc: a memory limit of -1 without a swap value lifts memory+swap too (the kernel refuses memory above memsw). */
function lifted(r: LinuxResources): LinuxResources {
  if (r.memory?.limit === -1 && r.memory.swap === undefined) r.memory.swap = -1;
  return r;
}

export function updateCommand(inv: Invocation): void {
  const resources = resourcesFromArgs(inv.flags);
  // runc ignores kernel memory: it is deprecated and gone from recent kernels.
  if (resources.memory) delete resources.memory.kernel;
  const id = containerId(inv);
  // Checked first (runc's order): refused where the host has no resctrl.
  const rdt = { l3CacheSchema: inv.flags['l3-cache-schema'] as string | undefined, memBwSchema: inv.flags['mem-bw-schema'] as string | undefined };
  updateContainerIntelRdt(inv.root, id, rdt);
  updateContainer(inv.root, id, resources);
}
