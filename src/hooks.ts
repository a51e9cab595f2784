// OCI hooks: each runs with the container's state JSON on stdin, its own args and env,
// and an optional timeout in seconds. The state's ociVersion is the runtime-spec version
// tsrun's state complies with (runc: specs.Version), not the config's.
import type { Hook, HookName, Spec, State } from './spec/types';
import { TsrunError } from './errors';
import { logWarning } from './logging';
import { OCI_VERSION } from './spec/default-config';

/** `cwd`: where the hooks run (createContainer: the container's root, as runc); default ours. */
export function runHooks(config: Spec, name: HookName, state: State, cwd?: string): void {
  for (const [i, hook] of (config.hooks?.[name] ?? []).entries()) runHook(hook, `hooks.${name}[${i}]`, state, cwd);
}

/** poststop (and other after-the-fact) hooks: a failure is a warning, the rest still run. */
export function runHooksWarnOnly(config: Spec, name: HookName, state: State, cwd?: string): void {
  for (const [i, hook] of (config.hooks?.[name] ?? []).entries()) {
    try {
      runHook(hook, `hooks.${name}[${i}]`, state, cwd);
    } catch (err) {
      logWarning((err as Error).message);
    }
  }
}

function runHook(hook: Hook, where: string, state: State, cwd?: string): void {
  const args = hook.args ?? [hook.path];
  // Loaded on first use: child_process pulls in net and streams, which state/kill never need.
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const result = spawnSync(hook.path, args.slice(1), {
    argv0: args[0] ?? hook.path,
    input: JSON.stringify({ ...state, ociVersion: OCI_VERSION }),
    cwd,
    // Without an env of its own a hook inherits ours, as with runc.
    env: hook.env ? Object.fromEntries(hook.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])) : process.env,
    timeout: hook.timeout ? hook.timeout * 1000 : undefined,
    killSignal: 'SIGKILL',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const label = `${where} ${hook.path}`;
  const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
  // A hook that never reads its stdin is fine (runc ignores EPIPE too): judge it by its exit.
  if (result.error && code !== 'EPIPE') {
    if (code === 'ETIMEDOUT') throw new TsrunError(`${label}: timed out after ${hook.timeout}s`);
    throw new TsrunError(`${label}: ${code === 'ENOENT' ? 'no such file or directory' : result.error.message}`);
  }
  if (result.status !== 0) {
    const why = result.signal ? `killed by ${result.signal}` : `exit status ${result.status}`;
    const stderr = result.stderr?.toString().trim();
    throw new TsrunError(`${label} failed: ${why}${stderr ? `: ${stderr}` : ''}`);
  }
}
