// GET /functions: what this gateway serves, with each function's settings (the names of its
// environment variables, not their values: they may be secrets).
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { FunctionList } from '../../contracts/function-list.js';
import { errorResponses, KEYED_ERRORS } from '../api-schemas.js';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';
import { rejectInvalidRequest } from '../request-validation.js';

const listFunctions = createRoute({
  method: 'get',
  path: '/functions',
  tags: ['functions'],
  summary: 'The functions this gateway serves',
  responses: {
    200: { description: 'Every function that loads, and the problems of those that do not.', content: { 'application/json': { schema: FunctionList } } },
    ...errorResponses(...KEYED_ERRORS),
  },
});

export function functionRoutes(deps: GatewayDeps): OpenAPIHono<GatewayEnv> {
  const app = new OpenAPIHono<GatewayEnv>({ defaultHook: rejectInvalidRequest });
  app.openapi(listFunctions, (c) => {
    const { functions, problems } = deps.registry.list();
    return c.json(
      {
        functions: functions.map((fn) => ({
          name: fn.name,
          runtime: fn.runtime,
          settings: {
            timeoutMs: fn.config.timeoutMs,
            retries: fn.config.retries,
            concurrency: fn.config.concurrency,
            network: fn.config.network,
            contentType: fn.config.contentType,
            env: Object.keys(fn.config.env),
          },
        })),
        problems,
      },
      200,
    );
  });
  return app;
}
