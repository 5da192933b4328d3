// The client commands' way to the gateway: PIDBOX_URL (default http://127.0.0.1:8080, where `pidbox
// dev` listens) and PIDBOX_API_KEY, sent as `Authorization: Bearer`. An error answer becomes a
// CliError carrying the gateway's code and message (README, "HTTP API": `{"error":{"code","message"}}`).
import { CliError, usageError } from '../cli-error.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface GatewayClient {
  /** The gateway's base URL, without a trailing slash. */
  readonly url: string;
  /** Any request; the answer as it came, whatever its status. Throws a CliError when the gateway cannot be reached. */
  request(method: string, path: string, init?: { body?: BodyInit; headers?: Record<string, string>; signal?: AbortSignal }): Promise<Response>;
  /** A JSON request; a 2xx answer's JSON, or a CliError with the gateway's code and message. */
  json<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

export function gatewayClient(env: NodeJS.ProcessEnv): GatewayClient {
  const raw = env.PIDBOX_URL?.trim() || DEFAULT_URL;
  let base: URL;
  try {
    base = new URL(raw);
  } catch {
    throw usageError(`PIDBOX_URL: ${JSON.stringify(raw)} is not a URL (e.g. ${DEFAULT_URL})`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw usageError(`PIDBOX_URL: must be an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  const url = base.href.replace(/\/+$/, '');
  const key = env.PIDBOX_API_KEY?.trim();
  const auth: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};

  const request: GatewayClient['request'] = async (method, path, init = {}) => {
    try {
      return await fetch(`${url}${path}`, {
        method,
        headers: { ...init.headers, ...auth },
        ...(init.body !== undefined ? { body: init.body } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
      });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach the gateway at ${url} (${cause?.code ?? cause?.message ?? (error as Error).message}): is pidbox running there? PIDBOX_URL says where`, { cause: error });
    }
  };

  return {
    url,
    request,
    async json<T>(method: string, path: string, body?: unknown) {
      const response = await request(method, path, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      if (!response.ok) throw await errorOf(response);
      return { status: response.status, body: (await response.json()) as T };
    },
  };
}

/** The gateway's error, from an answer that is not 2xx. */
export async function errorOf(response: Response): Promise<CliError> {
  const text = await response.text().catch(() => '');
  const error = parseError(text);
  if (error) return new CliError(`${error.code}: ${error.message}`, { code: error.code });
  return new CliError(`HTTP ${response.status}${text.trim() ? `: ${text.trim().slice(0, 300)}` : ''}`);
}

/** `{ "error": { "code", "message" } }`, or null when the text is not that. */
export function parseError(text: string): { code: string; message: string } | null {
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof error?.code === 'string' && typeof error.message === 'string') return { code: error.code, message: error.message };
  } catch {
    // Not JSON: not one of ours.
  }
  return null;
}

/** An id or name as one path segment. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}
