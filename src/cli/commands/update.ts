import * as fs from 'node:fs';
import type { CommandModule } from 'yargs';
import { dropZeros, parseBytes, updateContainer } from '../../container/cgroup-ops';
import { readJsonFile } from '../../container/json-file';
import type { LinuxResources } from '../../spec/types';
import { TsrunError } from '../../errors';
import { containerId, GlobalOptions } from '../context';

type UpdateArgs = GlobalOptions & {
  id: string;
  resources?: string;
  memory?: string;
  'memory-swap'?: string;
  'memory-reservation'?: string;
  'kernel-memory'?: string;
  'kernel-memory-tcp'?: string;
  'pids-limit'?: number;
  'cpu-share'?: number;
  'cpu-shares'?: number;
  'cpu-quota'?: number;
  'cpu-burst'?: number;
  'cpu-period'?: number;
  'cpu-rt-period'?: number;
  'cpu-rt-runtime'?: number;
  'cpu-idle'?: number;
  'cpuset-cpus'?: string;
  'cpuset-mems'?: string;
  'blkio-weight'?: number;
  'l3-cache-schema'?: string;
  'mem-bw-schema'?: string;
};

/** The LinuxResources an update asks for: --resources JSON (zeros = unset), or else the flags (as runc). */
export function resourcesFromArgs(argv: UpdateArgs, stdin: () => string = () => fs.readFileSync(0, 'utf8')): LinuxResources {
  let r: LinuxResources = {};
  if (argv.resources !== undefined) {
    const where = argv.resources === '-' ? 'standard input' : argv.resources;
    if (argv.resources === '-') {
      try {
        r = JSON.parse(stdin()) as LinuxResources;
      } catch (err) {
        throw new TsrunError(`--resources ${where}: ${err instanceof SyntaxError ? 'invalid JSON: ' : ''}${(err as Error).message}`);
      }
    } else {
      // Like config.json: a fifo, a device or a huge file is refused unread.
      try {
        r = readJsonFile(argv.resources) as LinuxResources;
      } catch (err) {
        throw new TsrunError(`--resources ${(err as Error).message}`);
      }
    }
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw new TsrunError(`--resources ${where}: expected a LinuxResources JSON object`);
    return lifted(dropZeros(r));
  }
  const mem = (k: keyof NonNullable<LinuxResources['memory']>, flag: keyof UpdateArgs) => {
    const v = argv[flag];
    if (v === undefined) return;
    (r.memory ??= {})[k] = parseBytes(String(v), flag) as never;
  };
  mem('limit', 'memory');
  mem('swap', 'memory-swap');
  mem('reservation', 'memory-reservation');
  mem('kernel', 'kernel-memory');
  mem('kernelTCP', 'kernel-memory-tcp');
  const num = (flag: keyof UpdateArgs): number | undefined => {
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
  cpu('cpus', argv['cpuset-cpus']);
  cpu('mems', argv['cpuset-mems']);
  const pids = num('pids-limit');
  if (pids !== undefined) r.pids = { limit: pids };
  const weight = num('blkio-weight');
  if (weight !== undefined) r.blockIO = { ...(r.blockIO ?? {}), weight };
  // runc's words: tsrun has no Intel RDT.
  if (argv['l3-cache-schema'] !== undefined) throw new TsrunError('Intel RDT/CAT: l3 cache schema is not enabled');
  if (argv['mem-bw-schema'] !== undefined) throw new TsrunError('Intel RDT/MBA: memory bandwidth schema is not enabled');
  return lifted(r);
}

/** runc: a memory limit of -1 without a swap value lifts memory+swap too (the kernel refuses memory above memsw). */
function lifted(r: LinuxResources): LinuxResources {
  if (r.memory?.limit === -1 && r.memory.swap === undefined) r.memory.swap = -1;
  return r;
}

export const updateCommand: CommandModule<GlobalOptions, UpdateArgs> = {
  command: 'update <id>',
  describe: 'change the resource limits of a running container',
  builder: (y) =>
    y
      .positional('id', { type: 'string', demandOption: true })
      .option('resources', { alias: 'r', type: 'string', describe: 'LinuxResources JSON file, or - for standard input (the other flags are then ignored, as by runc)' })
      .option('memory', { type: 'string', describe: 'memory limit (bytes, or 64m, 1g; -1 unlimited)' })
      .option('memory-swap', { type: 'string', describe: 'memory plus swap limit' })
      .option('memory-reservation', { type: 'string', describe: 'memory soft limit' })
      .option('kernel-memory', { type: 'string', describe: 'kernel memory limit (ignored, as runc)' })
      .option('kernel-memory-tcp', { type: 'string', describe: 'kernel TCP buffer limit (v1)' })
      .option('pids-limit', { type: 'number', describe: 'maximum number of tasks (-1 unlimited)' })
      // runc spells it --cpu-share; --cpu-shares (docker's spelling) is kept as an alias.
      .option('cpu-share', { alias: 'cpu-shares', type: 'number', describe: 'CPU shares (v2: converted to cpu.weight)' })
      .option('cpu-quota', { type: 'number', describe: 'CFS quota in microseconds per period (-1 unlimited)' })
      .option('cpu-burst', { type: 'number', describe: 'CFS burst in microseconds per period' })
      .option('cpu-period', { type: 'number', describe: 'CFS period in microseconds' })
      .option('cpu-rt-period', { type: 'number', describe: 'real-time period (v1)' })
      .option('cpu-rt-runtime', { type: 'number', describe: 'real-time runtime (v1)' })
      .option('cpu-idle', { type: 'number', describe: 'SCHED_IDLE for the cgroup (0 or 1)' })
      .option('cpuset-cpus', { type: 'string', describe: 'CPUs to run on (0-3, 0,1)' })
      .option('cpuset-mems', { type: 'string', describe: 'memory nodes to use' })
      .option('blkio-weight', { type: 'number', describe: 'block IO weight (10-1000)' })
      .option('l3-cache-schema', { type: 'string', describe: 'Intel RDT L3 cache schema (no Intel RDT in tsrun: refused)' })
      .option('mem-bw-schema', { type: 'string', describe: 'Intel RDT memory bandwidth schema (no Intel RDT in tsrun: refused)' }),
  handler: (argv) => {
    const resources = resourcesFromArgs(argv);
    // runc ignores kernel memory: it is deprecated and gone from recent kernels.
    if (resources.memory) delete resources.memory.kernel;
    updateContainer(argv.root, containerId(argv), resources);
  },
};
