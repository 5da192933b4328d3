// A finished invocation as the sync caller's HTTP answer: the function's status, headers and body,
// with the invocation's id and status.
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { errorResponse, HOP_BY_HOP } from './http-errors.js';

export type Flavor = 'pidbox' | 'openfaas';

export function invocationResponse(record: InvocationRecord, flavor: Flavor): Response {
  const response = record.response;
  const ids: Record<string, string> = { 'x-invocation-id': record.id, 'x-invocation-status': record.status };
  if (flavor === 'openfaas') {
    ids['x-call-id'] = record.id;
    ids['x-duration-seconds'] = ((record.timings.runMs ?? 0) / 1000).toFixed(6);
  }
  if (!response) return errorResponse('INTERNAL', `invocation ${record.id} finished without a response`, ids);
  if (response.status < 200 || response.status > 599) {
    return errorResponse('FUNCTION_FAILED', `the function answered with HTTP status ${response.status}, which cannot be passed on`, ids);
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    try {
      headers.append(name, value);
    } catch {
      // A header name or value that HTTP cannot carry is dropped, not the response.
    }
  }
  for (const [name, value] of Object.entries(ids)) headers.set(name, value);
  const noBody = response.status === 204 || response.status === 205 || response.status === 304;
  const body = noBody ? null : Buffer.from(response.body, response.bodyEncoding === 'base64' ? 'base64' : 'utf8');
  return new Response(body, { status: response.status, headers });
}
