// Search answers are read with a byte cap: an endpoint that answers 80 MB (a wrong endpoint, a hostile one) must not
// be read whole into memory. Shared by the Bing (through the SDK's HTTP client) and Openverse (fetch) providers.
import { AppError } from '../../errors';

/** The most bytes a search answer (one page) may have: Bing's 150 results take about 0.5 MB, Openverse's 20 far less. */
export const DEFAULT_MAX_SEARCH_ANSWER_BYTES = 8 * 1024 * 1024;

/** A search answer over its byte limit; thrown while reading, so the rest is never read. */
export class SearchAnswerTooLargeError extends AppError {
  override name = 'SearchAnswerTooLargeError';
  readonly kind = 'upstream-failed';
  constructor(readonly maxBytes: number) {
    super(`the search service answered more than ${maxBytes} bytes`);
  }
}

/**
 * The body of a fetch Response as text, refusing (and cancelling the rest) past `maxBytes`, whether the length is
 * announced or not.
 */
export async function readTextWithLimit(
  body: AsyncIterable<Uint8Array> | null,
  options: { maxBytes: number; contentLength?: string | null; cancel?: () => void },
): Promise<string> {
  const announced = Number(options.contentLength ?? Number.NaN);
  if (announced > options.maxBytes) {
    options.cancel?.();
    throw new SearchAnswerTooLargeError(options.maxBytes);
  }
  if (!body) return '';
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.byteLength;
    // Leaving the loop early cancels the stream (its iterator's return), which closes the connection.
    if (bytes > options.maxBytes) throw new SearchAnswerTooLargeError(options.maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
