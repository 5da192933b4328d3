// An exec function with `"cgi": true` answers the CGI way (RFC 3875, section 6): header lines, a
// blank line, then the body.
//
//   Status: 201 Created
//   Content-Type: application/json
//   X-Order: 7
//
//   {"id":7}
//
// Supported: the document response (6.2.1: Content-Type, an optional Status, any other header) and
// the client redirect (6.2.3, 6.2.4: Location with an absolute URL; 302 unless Status says
// otherwise). Not supported: the local redirect (6.2.2: `Location: /path`, which asks the server to
// answer another of its own paths instead), refused as an error. Lines end with LF or CRLF. Without
// Content-Type, function.json's `contentType`. The reason phrase of Status is not passed on (HTTP/2
// has none). A header given twice is joined with ", " (RFC 9110, 5.3), except Status, Content-Type
// and Location, which must be given once.
//
// The output is the function's, so nothing in it is trusted: the header section is bounded, a line
// that is not `Name: value`, a value with a control character (a CR or LF would start a header of
// its own on the way out), a continuation line or a bad status fails the run with a message that
// names the line, never quoting more than a header's name.

export interface CgiResponse {
  status: number;
  /** Header names lower-case; values as the bytes came (latin1, as HTTP carries them). */
  headers: Record<string, string>;
  body: Buffer;
}

export interface CgiResponseOptions {
  /** Content-Type when the function gives none (function.json's `contentType`). */
  defaultContentType: string;
  /** Largest header section, blank line included. Default: 32 KiB. */
  maxHeaderBytes?: number;
}

export const DEFAULT_MAX_CGI_HEADER_SECTION_BYTES = 32 * 1024;
/** Most header lines. */
const MAX_HEADERS = 256;
/** An HTTP header name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What a header value may hold: visible characters, spaces, tabs and bytes 0x80-0xFF (RFC 9110, 5.5). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const ABSOLUTE_URL = /^[A-Za-z][A-Za-z0-9+.-]*:/;
/** Headers that must come once: what they say cannot be two things. */
const SINGLE = new Set(['status', 'content-type', 'location']);

/** What is wrong with a CGI response; the message names the line. */
export class CgiResponseError extends Error {
  override name = 'CgiResponseError';
}

export function parseCgiResponse(output: Buffer, options: CgiResponseOptions): CgiResponse {
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_CGI_HEADER_SECTION_BYTES;
  const fields = new Map<string, string>();
  let position = 0;
  for (let line = 1; ; line++) {
    const newline = output.indexOf(0x0a, position);
    if (newline < 0 || newline >= maxHeaderBytes) {
      if (output.length >= maxHeaderBytes) throw new CgiResponseError(`its header section is longer than ${maxHeaderBytes} bytes`);
      if (output.length === 0) throw new CgiResponseError('the function wrote nothing: a CGI response starts with its headers and a blank line');
      throw new CgiResponseError(`it ends at line ${line}, before the blank line that ends its headers`);
    }
    const end = newline > position && output[newline - 1] === 0x0d ? newline - 1 : newline;
    const text = output.toString('latin1', position, end);
    position = newline + 1;
    if (text === '') break;
    if (fields.size >= MAX_HEADERS) throw new CgiResponseError(`it has more than ${MAX_HEADERS} header lines`);
    if (text[0] === ' ' || text[0] === '\t') throw new CgiResponseError(`line ${line} continues the line before it (folded headers are not accepted)`);
    const colon = text.indexOf(':');
    const name = colon > 0 ? text.slice(0, colon) : '';
    if (!TOKEN.test(name)) throw new CgiResponseError(`line ${line} is not a header line ("Name: value")`);
    const value = text.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) throw new CgiResponseError(`header ${name} (line ${line}) has a control character in its value`);
    const key = name.toLowerCase();
    const before = fields.get(key);
    if (before !== undefined && SINGLE.has(key)) throw new CgiResponseError(`header ${name} is given more than once`);
    fields.set(key, before === undefined ? value : `${before}, ${value}`);
  }

  const location = fields.get('location');
  if (location !== undefined && !ABSOLUTE_URL.test(location)) {
    throw new CgiResponseError(
      location.startsWith('/')
        ? 'a local redirect (Location: /path) is not supported; give an absolute URL, or answer the path yourself'
        : 'Location must be an absolute URL',
    );
  }
  let status = location !== undefined ? 302 : 200;
  const statusField = fields.get('status');
  if (statusField !== undefined) {
    const match = /^(\d{3})(?: .*)?$/.exec(statusField);
    const code = match ? Number(match[1]) : NaN;
    if (!(code >= 200 && code <= 599)) throw new CgiResponseError('Status must be a status code from 200 to 599, then an optional reason ("Status: 201 Created")');
    status = code;
  }
  fields.delete('status');
  if (!fields.has('content-type')) fields.set('content-type', options.defaultContentType);
  return { status, headers: Object.fromEntries(fields), body: output.subarray(position) };
}
