// An OTLP/HTTP trace receiver for tests: a real HTTP server on loopback that decodes what the
// exporters send, in protobuf (a small decoder of the OTLP trace messages) or JSON, into flat spans.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AttributeValue = string | number | boolean | AttributeValue[] | null;

export interface ReceivedSpan {
  service: string;
  /** The attributes of the resource that exported it (service.*, host.*, telemetry.sdk.*). */
  resource: Record<string, AttributeValue>;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, AttributeValue>;
  /** OTLP StatusCode: 0 UNSET, 1 OK, 2 ERROR. */
  status: { code: number; message: string };
  events: string[];
}

export interface OtlpReceiver {
  readonly url: string;
  readonly spans: ReceivedSpan[];
  readonly contentTypes: Set<string>;
  /** Resolves once `predicate` holds for the spans received so far (polling every 50 ms, up to timeoutMs). */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const type = String(req.headers['content-type'] ?? '');
      contentTypes.add(type);
      try {
        spans.push(...(type.includes('json') ? decodeJson(JSON.parse(body.toString('utf8'))) : decodeProtobuf(body)));
        res.writeHead(200, { 'content-type': type.includes('json') ? 'application/json' : 'application/x-protobuf' });
        res.end(type.includes('json') ? '{}' : '');
      } catch (error) {
        res.writeHead(400).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    contentTypes,
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline) throw new Error(`spans not received in ${timeoutMs} ms; got: ${spans.map((s) => s.name).join(', ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return spans;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---- JSON (OTLP/HTTP JSON: ids in hex, enums as numbers) ---------------------------------------

interface JsonKeyValue { key: string; value: Record<string, unknown> }

function jsonValue(v: Record<string, unknown> | undefined): AttributeValue {
  if (!v) return null;
  if ('stringValue' in v) return v.stringValue as string;
  if ('boolValue' in v) return v.boolValue as boolean;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return ((v.arrayValue as { values?: Array<Record<string, unknown>> }).values ?? []).map(jsonValue);
  return null;
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));
}

function decodeJson(body: { resourceSpans?: Array<Record<string, any>> }): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = jsonAttributes(rs.resource?.attributes);
    const service = String(resource['service.name'] ?? '');
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service,
          resource,
          scope: ss.scope?.name ?? '',
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind ?? 0,
          startTimeUnixNano: BigInt(s.startTimeUnixNano ?? 0),
          endTimeUnixNano: BigInt(s.endTimeUnixNano ?? 0),
          attributes: jsonAttributes(s.attributes),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          events: (s.events ?? []).map((e: { name: string }) => e.name),
        });
      }
    }
  }
  return out;
}

// ---- protobuf (opentelemetry/proto/collector/trace/v1) ------------------------------------------

type Field = { no: number; wire: number; value: bigint | Buffer };

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) { out.push({ no, wire, value: buf.readBigUInt64LE(pos) }); pos += 8; }
    else if (wire === 5) { out.push({ no, wire, value: BigInt(buf.readUInt32LE(pos)) }); pos += 4; }
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ no, wire, value: buf.subarray(pos, pos + len) });
      pos += len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

const bytesOf = (f: Field): Buffer => f.value as Buffer;
const all = (fs: Field[], no: number): Field[] => fs.filter((f) => f.no === no);
const one = (fs: Field[], no: number): Field | undefined => fs.find((f) => f.no === no);
const str = (fs: Field[], no: number): string => (one(fs, no) ? bytesOf(one(fs, no)!).toString('utf8') : '');
const hex = (fs: Field[], no: number): string => (one(fs, no) ? bytesOf(one(fs, no)!).toString('hex') : '');
const num = (fs: Field[], no: number): bigint => (one(fs, no)?.value as bigint | undefined) ?? 0n;

function anyValue(buf: Buffer): AttributeValue {
  const fs = fields(buf);
  const f = fs[0];
  if (!f) return null;
  switch (f.no) {
    case 1: return bytesOf(f).toString('utf8');
    case 2: return (f.value as bigint) !== 0n;
    case 3: return Number(BigInt.asIntN(64, f.value as bigint));
    case 4: { const b = Buffer.alloc(8); b.writeBigUInt64LE(f.value as bigint); return b.readDoubleLE(0); }
    case 5: return all(fields(bytesOf(f)), 1).map((v) => anyValue(bytesOf(v)));
    default: return null;
  }
}

function attributes(list: Field[]): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list) {
    const fs = fields(bytesOf(kv));
    const value = one(fs, 2);
    out[str(fs, 1)] = value ? anyValue(bytesOf(value)) : null;
  }
  return out;
}

function decodeProtobuf(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rsField of all(fields(body), 1)) {
    const rs = fields(bytesOf(rsField));
    const resourceField = one(rs, 1);
    const resource = resourceField ? attributes(all(fields(bytesOf(resourceField)), 1)) : {};
    const service = String(resource['service.name'] ?? '');
    for (const ssField of all(rs, 2)) {
      const ss = fields(bytesOf(ssField));
      const scope = one(ss, 1) ? str(fields(bytesOf(one(ss, 1)!)), 1) : '';
      for (const spanField of all(ss, 2)) {
        const s = fields(bytesOf(spanField));
        const status = one(s, 15) ? fields(bytesOf(one(s, 15)!)) : [];
        out.push({
          service,
          resource,
          scope,
          traceId: hex(s, 1),
          spanId: hex(s, 2),
          parentSpanId: hex(s, 4),
          name: str(s, 5),
          kind: Number(num(s, 6)),
          startTimeUnixNano: num(s, 7),
          endTimeUnixNano: num(s, 8),
          attributes: attributes(all(s, 9)),
          status: { code: Number(num(status, 3)), message: str(status, 2) },
          events: all(s, 11).map((e) => str(fields(bytesOf(e)), 2)),
        });
      }
    }
  }
  return out;
}
