// A node function: a Web-standard fetch handler. A returned plain value is sent as JSON.
interface Context {
  invocationId: string;
  functionName: string;
}

export default async function hello(request: Request, context: Context): Promise<Response> {
  const url = new URL(request.url);
  const body = request.method === 'GET' ? '' : await request.text();
  const name = url.searchParams.get('name') ?? (body.trim() || 'world');
  console.log(`greeting ${name} (invocation ${context.invocationId})`);
  return Response.json({ message: `Hello, ${name}!`, pid: process.pid });
}
