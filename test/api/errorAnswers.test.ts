// What an error escaping a handler answers, by who can fix it: a bad argument is the caller's (400, its message
// names the argument, what was expected and what came); a ProgrammingError is the app's own bug (500 `internal`,
// the body says only to see the log, and the log has the message and the stack). Through httpFunction with
// @azure/functions' own request and context types; an on-demand route that asks for no services.
import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';

import { httpFunction, type HttpServices } from '../../src/api/httpFunction';
import type { JsonResponse } from '../../src/api/responses';
import { invalidArgument, ProgrammingError } from '../../src/errors';

const HIDDEN_BODY = {
  error: 'InternalError',
  code: 'internal',
  message: 'an unexpected error occurred; see the function log',
};

async function answerOf(thrown: unknown): Promise<{ response: HttpResponseInit; errors: string[]; logged: string[] }> {
  const errors: string[] = [];
  const logged: string[] = [];
  const context = new InvocationContext({
    functionName: 'probe',
    logHandler: (level, ...args) => (level === 'error' ? errors : logged).push(args.join(' ')),
  });
  const request = new HttpRequest({ method: 'GET', url: 'http://localhost:7071/api/probe' });
  // The handler asks for no services: the source is never called.
  const noServices = (): Promise<HttpServices> => Promise.reject(new Error('this test starts no services'));
  const { handler } = httpFunction(noServices, {
    route: 'probe',
    methods: ['GET'],
    authLevel: 'anonymous',
    services: 'on-demand',
    handler: async (): Promise<JsonResponse> => {
      throw thrown;
    },
  });
  const response = (await handler(request, context)) as HttpResponseInit;
  return { response, errors, logged };
}

describe('an error escaping a handler', () => {
  it('answers a ProgrammingError 500 `internal` without its message, and logs the message and where', async () => {
    const bug = new ProgrammingError('weights and labels differ in length (3 != 4) in /srv/app/secret.ts');
    const { response, errors } = await answerOf(bug);
    expect(response).toEqual({ status: 500, jsonBody: HIDDEN_BODY });
    expect(JSON.stringify(response)).not.toMatch(/weights|secret|ProgrammingError|programming/);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('ProgrammingError: weights and labels differ in length (3 != 4)');
    expect(errors[0]).toContain('errorAnswers.test.ts'); // the stack, so the log says where
  });

  it('answers what is no Error the same way, logging what was thrown', async () => {
    const { response, errors } = await answerOf({ reason: 'a plain object' });
    expect(response).toEqual({ status: 500, jsonBody: HIDDEN_BODY });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('a non-Error value was thrown: {"reason":"a plain object"}');
  });

  it("answers a bad argument 400 with the message that names it, and logs nothing: it is the caller's", async () => {
    const { response, errors } = await answerOf(invalidArgument('top', 'a whole number from 1 to 5', 'lots'));
    expect(response).toEqual({
      status: 400,
      jsonBody: {
        error: 'BadRequest',
        code: 'invalid-argument',
        message: 'expected a whole number from 1 to 5 for top but received "lots"',
      },
    });
    expect(errors).toEqual([]);
  });
});
