// What `pidbox new` writes: the smallest function of each runtime that shows its contract (README,
// "Functions"), and a function.json whose `$schema` lets an editor check and complete its settings.
import type { FunctionRuntime } from '../../registry/function-registry.js';

export interface TemplateFile {
  /** Relative to the function's folder. */
  path: string;
  content: string;
  /** An exec function's handler is executable; everything is readable by others, as the sandbox's user owns none of it. */
  mode: number;
  /** One line for the list `pidbox new` prints. */
  about: string;
}

export function functionTemplate(name: string, runtime: FunctionRuntime, schemaUrl: string): TemplateFile[] {
  const config: TemplateFile = {
    path: 'function.json',
    content: `${JSON.stringify({ $schema: schemaUrl, timeoutMs: 30000 }, null, 2)}\n`,
    mode: 0o644,
    about: 'settings: timeoutMs, env, retries, memoryMb… ($schema lets your editor check them)',
  };
  switch (runtime) {
    case 'node':
      return [
        { path: 'index.ts', content: nodeHandler(name), mode: 0o644, about: 'the handler: (request, context) => Response' },
        { path: 'package.json', content: `${JSON.stringify({ name, private: true, type: 'module' }, null, 2)}\n`, mode: 0o644, about: 'an ES module, never published' },
        config,
      ];
    case 'exec':
      return [
        { path: 'handler', content: execHandler(name), mode: 0o755, about: 'the handler: request body on stdin, response body on stdout' },
        config,
      ];
  }
}

function nodeHandler(name: string): string {
  return `// ${name}: a pidbox function. pidbox bundles this file (TypeScript needs no build step) and calls
// its default export once per invocation, in a sandbox of its own: POST /functions/${name}, or
// \`pidbox invoke ${name} -d 'some text'\`. Return a Response, or a plain value (sent as JSON).

/** What pidbox tells the handler about the call. */
export interface Context {
  /** This invocation's id: \`pidbox get ID\`, \`pidbox logs ID\`. */
  invocationId: string;
  functionName: string;
  /** Which run of the invocation this is, from 1: retries (function.json's \`retries\`) count up. */
  attempt: number;
  /** When the run times out (function.json's \`timeoutMs\`), in milliseconds since the epoch. */
  deadline: number;
}

export default async function handler(request: Request, context: Context): Promise<Response> {
  const body = await request.text();
  // console output is the function's log (\`pidbox logs ID\`), kept apart from its response.
  console.log(\`${name} called: invocation \${context.invocationId}, attempt \${context.attempt}\`);
  return Response.json({
    function: context.functionName,
    received: body,
    msLeft: context.deadline - Date.now(),
  });
}
`;
}

function execHandler(name: string): string {
  return `#!/bin/sh
# ${name}: a pidbox exec function, run once per invocation in a sandbox of its own:
# POST /functions/${name}, or \`pidbox invoke ${name} -d 'some text'\`.
# The request body arrives on stdin; stdout is the response body (function.json's contentType);
# stderr is the function's log (\`pidbox logs ID\`). Exit 0 is success, any other status a failure.
# The call's facts: PIDBOX_INVOCATION_ID, PIDBOX_ATTEMPT, PIDBOX_METHOD, PIDBOX_PATH.
set -eu
body=$(cat)
echo "${name} called: invocation $PIDBOX_INVOCATION_ID, attempt $PIDBOX_ATTEMPT" >&2
printf '${name} received: %s\\n' "$body"
`;
}
