// The app's HTTP API as icf calls it: the base URL and function key from the options or the environment
// (ICF_URL, ICF_FUNCTION_KEY), and errors that say which call failed and what the app answered.
import { loadCliSettings } from '../config';
import { describeValue } from '../util/describeValue';

export interface ApiClientOptions {
  /** The app (default: $ICF_URL, else http://localhost:7071). */
  baseUrl?: string;
  /** A function key (default: $ICF_FUNCTION_KEY; not needed locally). */
  key?: string;
}

export class ApiClient {
  readonly baseUrl: string;
  readonly #key: string | undefined;

  constructor(options: ApiClientOptions = {}) {
    const settings = loadCliSettings();
    this.baseUrl = options.baseUrl ?? settings.appUrl ?? 'http://localhost:7071';
    this.#key = options.key ?? settings.functionKey;
  }

  /** GET a JSON answer at `path` (under /api/). */
  async getJson<T>(path: string): Promise<T> {
    const response = await this.fetch(path);
    return (await response.json()) as T;
  }

  /** A successful answer at `path` (under /api/), its body unread; anything else throws with the app's message. */
  async fetch(path: string, method = 'GET'): Promise<Response> {
    const url = new URL(`/api/${path}`, this.baseUrl);
    let response: Response;
    try {
      response = await fetch(url, { method, headers: this.#key ? { 'x-functions-key': this.#key } : {} });
    } catch (error) {
      throw new Error(`cannot reach ${this.baseUrl} (${(error as Error).message}); is the app running (npm start)?`, {
        cause: error,
      });
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
