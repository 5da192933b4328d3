import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The tests run compiled, from dist/test/; their fixtures and bin/ stay in the source tree.

function findRepoRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/** The standalone init, as a container would start it. */
export const INIT_BIN = join(REPO_ROOT, 'bin', 'pidbox-init');

/** test/fixtures/sandbox/: the sandbox tests mount it as /var/task. */
export const SANDBOX_FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'sandbox');

/** A script under test/fixtures/sandbox/. */
export function sandboxFixture(name: string): string {
  return join(REPO_ROOT, 'test', 'fixtures', 'sandbox', name);
}
