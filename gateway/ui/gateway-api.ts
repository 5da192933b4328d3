// The dashboard reads and acts through the gateway's own HTTP API, in process (`app.request`), with
// the caller's Authorization header: it sees what any client sees, is refused what any client is
// refused, and knows nothing of Redis or the records' layout.

/** Answers a request as the gateway's app does (`app.request`). */
export type AppRequest = (path: string, init: RequestInit) => Response | Promise<Response>;

/** A JSON answer of the API: its data, or its error (`{ error: { code, message } }`). */
export type ApiAnswer<T> =
  | { ok: true; status: number; data: T; headers: Headers }
  | { ok: false; status: number; code: string; message: string; headers: Headers };

export interface GatewayApi {
  /** GET a JSON route. */
  get<T>(path: string): Promise<ApiAnswer<T>>;
  /** Any request, answered as the API answers it (a stream stays a stream). */
  send(path: string, init?: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal }): Promise<Response>;
}

/** `authorization`: the caller's header (`Bearer <key>`), passed on as it is; none when the gateway is open. */
export function gatewayApi(request: AppRequest, authorization: string | undefined): GatewayApi {
  const send: GatewayApi['send'] = async (path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (authorization) headers.authorization = authorization;
    return request(path, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: init.body } : {}), ...(init.signal ? { signal: init.signal } : {}) });
  };
  return {
    send,
    async get<T>(path: string) {
      return readAnswer<T>(await send(path, { headers: { accept: 'application/json' } }));
    },
  };
}

export async function readAnswer<T>(response: Response): Promise<ApiAnswer<T>> {
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON: reported as an error below, with the start of the text.
  }
  if (response.ok && body !== null) return { ok: true, status: response.status, data: body as T, headers: response.headers };
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return {
    ok: false,
    status: response.status,
    code: typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`,
    message: typeof error?.message === 'string' ? error.message : text.slice(0, 200),
    headers: response.headers,
  };
}
