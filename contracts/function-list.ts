// What `GET /functions` answers: the functions a gateway serves, with each one's settings (the names
// of its environment variables, not their values: they may be secrets), and the folders that do not
// load. One schema for the route's description and its clients' types (pidbox ls, the dashboard).
import { z } from 'zod';
import { FunctionConfigFile } from './function-config.js';

const { timeoutMs, retries, concurrency, network, contentType } = FunctionConfigFile.shape;

export const FunctionList = z
  .object({
    functions: z.array(
      z.object({
        name: z.string(),
        runtime: z.enum(['node', 'exec']),
        settings: z
          .object({
            timeoutMs: timeoutMs.unwrap(),
            retries: retries.unwrap(),
            concurrency: concurrency.unwrap(),
            network: network.unwrap(),
            contentType: contentType.unwrap(),
            env: z.array(z.string()).meta({ description: 'The names of its environment variables (never their values).' }),
          })
          .meta({ description: 'Its function.json, defaults applied.' }),
      }),
    ),
    problems: z
      .array(z.object({ name: z.string(), code: z.string(), message: z.string() }))
      .meta({ description: 'Folders that do not load as functions, and why (INVALID_FUNCTION_CONFIG, …).' }),
  })
  .meta({ id: 'FunctionList' });
export type FunctionList = z.infer<typeof FunctionList>;
