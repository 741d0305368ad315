/**
 * OCI hooks (config.json `hooks`): each one run on the host with the container's state as JSON on
 * its stdin, its `args` (args[0] is its argv[0]) and `env` (nothing else), killed after its
 * `timeout` seconds. A hook that fails (non-zero, a signal, the timeout) is an error naming it.
 */
import { spawn } from 'node:child_process';
import { ExecDriverError } from '../errors.js';
import type { Hook, State } from '../spec/types.js';

export type HookKind = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

function runHook(kind: HookKind, index: number, hook: Hook, state: State): Promise<void> {
  const name = `hooks.${kind}[${index}] ${hook.path}`;
  return new Promise((resolve, reject) => {
    const args = hook.args ?? [hook.path];
    const child = spawn(hook.path, args.slice(1), {
      argv0: args[0] ?? hook.path,
      env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    let timedOut = false;
    const timer = hook.timeout ? setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), hook.timeout * 1000) : undefined;
    child.stderr!.on('data', (d: Buffer) => void (stderr.length < 4096 && (stderr += d.toString())));
    child.stdin!.on('error', () => {});
    child.stdin!.end(JSON.stringify(state));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new ExecDriverError('ERR_SYSTEM', `${name}: ${e.message}`, { containerId: state.id, step: `hook ${kind}` }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) return resolve();
      const why = timedOut ? `timed out after ${hook.timeout} s` : signal ? `killed by ${signal}` : `exit status ${code}`;
      const tail = stderr.trim() ? `: ${stderr.trim().split('\n').slice(-1)[0]}` : '';
      reject(new ExecDriverError('ERR_SYSTEM', `${name} failed (${why})${tail}`, { containerId: state.id, step: `hook ${kind}` }));
    });
  });
}

/** Run the hooks of one kind in order; the first failure stops them (and is thrown). */
export async function runHooks(kind: HookKind, hooks: Hook[] | undefined, state: State): Promise<void> {
  for (const [i, h] of (hooks ?? []).entries()) await runHook(kind, i, h, state);
}
