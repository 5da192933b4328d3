// A function's own environment, the same on every call: `PATH`, `HOME` and `TMPDIR` (its /tmp),
// `LANG`, `PIDBOX_FUNCTION`, then function.json's `env`. A node function's module gets it before it
// loads (in a pre-started sandbox, long before the call); an exec function gets the call's facts
// on top (run-function.ts).
import type { FunctionInfo } from '../../registry/function-registry.js';
import { SANDBOX_PATH, SANDBOX_PATHS } from '../sandbox/root-fs.js';

export function functionEnv(fn: FunctionInfo): Record<string, string> {
  return {
    PATH: SANDBOX_PATH,
    HOME: SANDBOX_PATHS.tmp,
    TMPDIR: SANDBOX_PATHS.tmp,
    LANG: 'C.UTF-8',
    PIDBOX_FUNCTION: fn.name,
    ...fn.config.env,
  };
}
