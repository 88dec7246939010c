// Errors are answered by their kind through the one status table: the status, the `error` name and the message
// (or, for errors that may hold internals, a pointer to the log), exactly as the endpoints send them.
import { describe, expect, it } from 'vitest';

import { ForbiddenOriginError, UnsupportedMediaTypeError } from '../../src/api/errors';
import { ERROR_STATUS } from '../../src/api/errorStatus';
import { errorResponse } from '../../src/api/responses';
import { SearchProviderError } from '../../src/collect/types';
import { CatalogConflictError } from '../../src/dataset/catalog';
import { ImageRejectedError } from '../../src/dataset/validate';
import {
  AppError,
  ConfigurationError,
  InvalidArgumentError,
  NotFoundError,
  PayloadTooLargeError,
} from '../../src/errors';
import { NoModelError } from '../../src/serve/modelCache';

function answer(error: unknown): { response: ReturnType<typeof errorResponse>; logged: string[] } {
  const logged: string[] = [];
  return { response: errorResponse(error, (message) => logged.push(message)), logged };
}

describe('errorResponse', () => {
  it('answers what the caller can fix with its status, name and message, and logs nothing', () => {
    const cases: [AppError, number, string, string][] = [
      [new InvalidArgumentError('bad name'), 400, 'BadRequest', 'invalid-argument'],
      [new ForbiddenOriginError('foreign page'), 403, 'Forbidden', 'forbidden-origin'],
      [new NotFoundError('no such dataset'), 404, 'NotFound', 'not-found'],
      [new PayloadTooLargeError('too big'), 413, 'PayloadTooLarge', 'payload-too-large'],
      [new UnsupportedMediaTypeError('not JSON'), 415, 'UnsupportedMediaType', 'unsupported-media-type'],
    ];
    for (const [error, status, name, code] of cases) {
      expect(answer(error)).toEqual({
        response: { status, jsonBody: { error: name, code, message: error.message } },
        logged: [],
      });
    }
    const noModel = new NoModelError('shirts');
    expect(answer(noModel).response).toEqual({
      status: 503,
      jsonBody: {
        error: 'NoModel',
        code: 'no-model',
        message: 'dataset "shirts" has no trained model yet; POST /train first',
      },
    });
  });

  it('answers a rejected image with its rejection code, 413 when it is too large', () => {
    expect(JSON.stringify(answer(new ImageRejectedError('corrupt-image', 'the JPEG data is truncated')).response)).toBe(
      '{"status":400,"jsonBody":{"error":"BadRequest","code":"corrupt-image","message":"the JPEG data is truncated"}}',
    );
    expect(answer(new ImageRejectedError('file-too-large', 'over 10 bytes')).response).toEqual({
      status: 413,
      jsonBody: { error: 'PayloadTooLarge', message: 'over 10 bytes', code: 'file-too-large' },
    });
  });

  it('shows and logs a misconfiguration (it names a setting), and keeps other failures out of the body', () => {
    expect(answer(new ConfigurationError('COLLECT_SCHEDULE is not set'))).toEqual({
      response: {
        status: 500,
        jsonBody: { error: 'Misconfigured', code: 'misconfigured', message: 'COLLECT_SCHEDULE is not set' },
      },
      logged: ['COLLECT_SCHEDULE is not set'],
    });
    const hidden = {
      status: 500,
      jsonBody: {
        error: 'InternalError',
        code: 'internal',
        message: 'an unexpected error occurred; see the function log',
      },
    };
    // Contention that passes: the caller may try again, and is told when.
    expect(answer(new CatalogConflictError('another ingest of dataset "d" committed first')).response).toEqual({
      status: 503,
      jsonBody: { error: 'Busy', code: 'conflict', message: 'another ingest of dataset "d" committed first' },
      headers: { 'retry-after': '1' },
    });
    for (const error of [new Error('secret path /x/y'), new SearchProviderError('bad key'), 'a string']) {
      const { response, logged } = answer(error);
      expect(response).toEqual(hidden);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toContain(error instanceof Error ? error.message : error);
    }
  });

  it('has a row for every kind, each with a real status', () => {
    for (const [kind, entry] of Object.entries(ERROR_STATUS)) {
      expect(entry.status, kind).toBeGreaterThanOrEqual(400);
      expect(entry.status, kind).toBeLessThan(600);
      expect(entry.audience === 'hidden' ? entry.status : 500, kind).toBe(500);
    }
  });
});
