// What the fake search services on 127.0.0.1 (fakeBing, fakeOpenverse) have in common: a server on port 0 that
// records every request, scripted failures that act on the connection, JSON and image answers, and sniffing the
// format of image bytes for URLs and content types.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** Date.now() on arrival, to measure the waits between tries. */
  receivedAt: number;
}

/** Answers a request; `url` is the request's URL, parsed. */
export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;

export interface RecordingServer {
  /** e.g. http://127.0.0.1:12345 */
  readonly origin: string;
  /** An absolute URL on this server. */
  url(path: string): string;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Stops listening and drops the connections still open (a hanging request included). */
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 at a free port that records every request, then lets `handler` answer it. */
export async function startRecordingServer(handler: RequestHandler): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      receivedAt: Date.now(),
    });
    handler(req, res, url);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (path) => new URL(path, origin).toString(),
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** An origin on 127.0.0.1 where nothing listens (a port that was free a moment ago), to be refused a connection. */
export async function closedOrigin(): Promise<string> {
  const server = await startRecordingServer(() => undefined);
  await server.close();
  return server.origin;
}

/** The failures every fake can script; each answers throttle and server-error with its service's own body. */
export type CommonFailure =
  /** 429, with `Retry-After: <seconds>` when retryAfterSeconds is given. */
  | { kind: 'throttle'; retryAfterSeconds?: number }
  /** A 5xx (500 unless status says otherwise). */
  | { kind: 'server-error'; status?: number }
  | ConnectionFailure;

/** The scripted failures that act on the connection rather than answer, alike for every fake. */
export type ConnectionFailure =
  /** Drops the connection without an answer. */
  | { kind: 'reset' }
  /** Never answers (until the client gives up or the fake closes), to exercise timeouts. */
  | { kind: 'hang' };

export function failConnection(res: http.ServerResponse, failure: ConnectionFailure): void {
  if (failure.kind === 'reset') res.socket?.destroy();
}

/** The Retry-After header of a 429, when it gives one. */
export function retryAfterHeaders(seconds: number | undefined): Record<string, string> {
  return seconds !== undefined ? { 'Retry-After': String(seconds) } : {};
}

/** Failures scripted for the next requests, taken in the order they were queued. */
export class FailureScript<F> {
  private readonly queue: F[] = [];

  /** Queues `failure` for the next `count` requests. */
  add(count: number, failure: F): void {
    for (let i = 0; i < count; i++) this.queue.push(failure);
  }

  /** The failure for this request, if one is queued. */
  next(): F | undefined {
    return this.queue.shift();
  }
}

/** A JSON answer; `headers` add to, or replace, the Content-Type and Content-Length set here. */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A 200 with the image's bytes, typed by their format (sniffed unless given). */
export function sendImage(res: http.ServerResponse, bytes: Buffer, format: string = formatOf(bytes)): void {
  res.writeHead(200, { 'Content-Type': contentTypeOfFormat(format), 'Content-Length': bytes.length });
  res.end(bytes);
}

/** The image format the bytes start with, in Bing's encodingFormat words (jpeg, png, gif, webp, bmp); 'unknown' otherwise. */
export function formatOf(bytes: Buffer): string {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (bytes.subarray(0, 3).toString('latin1') === 'GIF') return 'gif';
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP')
    return 'webp';
  if (bytes.subarray(0, 2).toString('latin1') === 'BM') return 'bmp';
  return 'unknown';
}

/** The file extension for a format from formatOf: jpg for jpeg, bin for unknown. */
export function extensionOf(format: string): string {
  return format === 'jpeg' ? 'jpg' : format === 'unknown' ? 'bin' : format;
}

/** The Content-Type for a format from formatOf: application/octet-stream for unknown. */
export function contentTypeOfFormat(format: string): string {
  return format === 'unknown' ? 'application/octet-stream' : `image/${format}`;
}

/** The Content-Type the bytes are served with. */
export function contentTypeOf(bytes: Buffer): string {
  return contentTypeOfFormat(formatOf(bytes));
}
