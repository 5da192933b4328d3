// A functions folder that is missing serves nothing, and looked like an empty one: every server says
// so at start. A warning, not an error: the registry reads the folder at every call, so creating it
// later (or mounting it) works without a restart.
import { readdirSync, statSync } from 'node:fs';
import type { Logger } from '../telemetry/logger.js';

/** What is wrong with the folder (`does not exist`, `is not a folder`, `cannot be read: …`), or null. */
export function functionsDirProblem(dir: string): string | null {
  try {
    if (!statSync(dir).isDirectory()) return 'is not a folder';
    readdirSync(dir);
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'does not exist';
    if (code === 'ENOTDIR') return 'is not a folder';
    return `cannot be read: ${(error as Error).message}`;
  }
}

/** Logs a warning when the folder has a problem; returns the problem (or null). */
export function warnAboutFunctionsDir(dir: string, log: Logger): string | null {
  const problem = functionsDirProblem(dir);
  if (problem) log.warn(`the functions folder ${dir} ${problem}: no function can be called (set PIDBOX_FUNCTIONS_DIR or --functions)`, { functions_dir: dir });
  return problem;
}
