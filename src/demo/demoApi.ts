// The app's HTTP API as the demo calls it: JSON in and out, and errors that name the call and what the app answered,
// so that a failing step of the demo says which request failed.
import { messageOf } from '../errors';

export class DemoApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    message: string,
  ) {
    super(`${method} /api/${path}: ${status} ${message}`);
    this.name = 'DemoApiError';
  }
}

export interface DemoApiOptions {
  /** The app, e.g. http://localhost:7071. */
  baseUrl: string;
  /** A function key (not needed on the local host). */
  key?: string;
}

export class DemoApi {
  readonly baseUrl: string;
  readonly #key: string | undefined;

  constructor(options: DemoApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#key = options.key;
  }

  /** A JSON answer of `method` on `path` (under /api/), or undefined for 404; any other failure throws. */
  async optional<T>(method: string, path: string, body?: unknown): Promise<T | undefined> {
    const response = await this.#send(method, path, body);
    if (response.status === 404) return undefined;
    return this.#json<T>(method, path, response);
  }

  /** A JSON answer of `method` on `path` (under /api/); anything but a 2xx throws a DemoApiError. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.#json<T>(method, path, await this.#send(method, path, body));
  }

  /** POSTs `content` as the raw body (an image to classify) and answers the JSON with the round trip's time. */
  async postBytes<T>(path: string, content: Buffer): Promise<{ body: T; elapsedInMs: number }> {
    const started = performance.now();
    const response = await this.#send('POST', path, content);
    const body = await this.#json<T>('POST', path, response);
    return { body, elapsedInMs: performance.now() - started };
  }

  async #send(method: string, path: string, body: unknown): Promise<Response> {
    const headers: Record<string, string> = this.#key ? { 'x-functions-key': this.#key } : {};
    let payload: string | Uint8Array | undefined;
    if (Buffer.isBuffer(body)) {
      headers['content-type'] = 'application/octet-stream';
      payload = new Uint8Array(body);
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    try {
      return await fetch(`${this.baseUrl}/api/${path}`, { method, headers, ...(payload ? { body: payload } : {}) });
    } catch (error) {
      throw new Error(`${method} ${this.baseUrl}/api/${path}: cannot reach the app (${messageOf(error)})`, {
        cause: error,
      });
    }
  }

  async #json<T>(method: string, path: string, response: Response): Promise<T> {
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new DemoApiError(method, path, response.status, `answered no JSON: ${text.slice(0, 200)}`);
    }
    if (!response.ok) {
      const message = (parsed as { message?: unknown }).message;
      throw new DemoApiError(method, path, response.status, typeof message === 'string' ? message : text);
    }
    return parsed as T;
  }
}
