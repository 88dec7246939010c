// The app's HTTP API as icf calls it: the endpoint and function key from the options (--endpoint, its alias --url,
// and --key) or the settings (ICF_URL, ICF_FUNCTION_KEY), and errors that say which call failed and what the app
// answered.
import { loadCliSettings } from '../config';
import { InvalidArgumentError, messageOf } from '../errors';
import { describeValue } from '../util/describeValue';

/** The options of every command that talks to the app. */
export const APP_OPTIONS = ['endpoint', 'url', 'key'] as const;
export type AppOption = (typeof APP_OPTIONS)[number];

/** Their help lines. */
export const APP_OPTIONS_USAGE = [
  '  --endpoint URL                    the app (default: $ICF_URL, else http://localhost:7071); alias --url',
  '  --key KEY                         a function key (default: $ICF_FUNCTION_KEY; npm start needs none,',
  '                                    npm start -- --strict prints one)',
].join('\n');

export interface ApiClientOptions {
  /** The app (default: $ICF_URL, else http://localhost:7071). */
  baseUrl?: string;
  /** A function key (default: $ICF_FUNCTION_KEY; npm start needs none, npm start -- --strict prints one). */
  key?: string;
}

/** A client for the app that a command's --endpoint/--url and --key options name. */
export function apiClientFor(values: Partial<Record<AppOption, string>>): ApiClient {
  const baseUrl = values.endpoint ?? values.url;
  return new ApiClient({ ...(baseUrl ? { baseUrl } : {}), ...(values.key ? { key: values.key } : {}) });
}

export class ApiClient {
  readonly baseUrl: string;
  readonly #key: string | undefined;

  constructor(options: ApiClientOptions = {}) {
    const settings = loadCliSettings();
    this.baseUrl = options.baseUrl ?? settings.appUrl ?? 'http://localhost:7071';
    this.#key = options.key ?? settings.functionKey;
    if (!URL.canParse(this.baseUrl) || !/^https?:$/.test(new URL(this.baseUrl).protocol)) {
      throw new InvalidArgumentError(
        `${JSON.stringify(this.baseUrl)} is not an http(s) URL: give one like http://localhost:7071 (--endpoint, or $ICF_URL)`,
      );
    }
  }

  /** GET a JSON answer at `path` (under /api/). */
  async getJson<T>(path: string): Promise<T> {
    const response = await this.fetch(path);
    return (await response.json()) as T;
  }

  /** POST `body` as JSON to `path` (under /api/) and read the JSON answer. */
  async postJson<T>(path: string, body: unknown): Promise<T> {
    const response = await this.fetch(path, 'POST', {
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    return (await response.json()) as T;
  }

  /** A successful answer at `path` (under /api/), its body unread; anything else throws with the app's message. */
  async fetch(
    path: string,
    method = 'GET',
    init: { body?: string | Uint8Array; headers?: Record<string, string> } = {},
  ) {
    const url = new URL(`/api/${path}`, this.baseUrl);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { ...init.headers, ...(this.#key ? { 'x-functions-key': this.#key } : {}) },
        ...(init.body === undefined ? {} : { body: init.body }),
      });
    } catch (error) {
      throw new Error(`cannot reach ${this.baseUrl} (${messageOf(error)}); is the app running (npm start)?`, {
        cause: error,
      });
    }
    if (response.status === 401) {
      // Azure's 401 has no body: say what it means and how to give a key.
      throw new Error(
        `${method} ${url.pathname}: 401 Unauthorized: ${
          this.#key
            ? 'the app refused the function key (--key or $ICF_FUNCTION_KEY)'
            : 'the app needs a function key: pass --key KEY or set ICF_FUNCTION_KEY'
        }`,
      );
    }
    if (!response.ok) {
      const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      throw new Error(
        `${method} ${url.pathname}: ${response.status} ${describeValue(json['message'] ?? response.statusText)}`,
      );
    }
    return response;
  }
}
