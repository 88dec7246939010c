// The error helpers every catch and argument check uses: ensureError and messageOf for whatever was thrown,
// invalidArgument for one wording of a bad argument (which, what was expected, what came), as sharp says it.
import { describe, expect, it } from 'vitest';

import { ERROR_STATUS } from '../src/api/errorStatus';
import { ensureError, invalidArgument, InvalidArgumentError, messageOf, ProgrammingError } from '../src/errors';

describe('ensureError and messageOf', () => {
  it('keep an Error as it is and describe anything else', () => {
    const error = new RangeError('out of range');
    expect(ensureError(error)).toBe(error);
    expect(messageOf(error)).toBe('out of range');
    expect(ensureError('text')).toBeInstanceOf(Error);
    expect(messageOf('text')).toBe('a non-Error value was thrown: text');
    expect(messageOf({ a: 1 })).toBe('a non-Error value was thrown: {"a":1}');
    expect(messageOf(undefined)).toBe('a non-Error value was thrown: undefined');
    expect(messageOf(null)).toBe('a non-Error value was thrown: null');
  });
});

describe('invalidArgument', () => {
  it('names the argument, what was expected and what came, as an InvalidArgumentError', () => {
    const error = invalidArgument('top', 'a whole number from 1 to 5', '0');
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.kind).toBe('invalid-argument');
    expect(error.message).toBe('expected a whole number from 1 to 5 for top but received "0"');
  });

  it('shows what came so that its type is plain', () => {
    const received = (value: unknown) => invalidArgument('x', 'y', value).message.replace('expected y for x but ', '');
    expect(received('')).toBe('received ""');
    expect(received(' 5')).toBe('received " 5"');
    expect(received(7)).toBe('received 7 of type number');
    expect(received(false)).toBe('received false of type boolean');
    expect(received([1, 'a'])).toBe('received [1,"a"] of type array');
    expect(received({ label: 'shirt' })).toBe('received {"label":"shirt"} of type object');
    expect(received(null)).toBe('received null');
    expect(received(undefined)).toBe('received undefined');
    expect(received(new Uint8Array(3))).toBe('received 3 bytes');
  });
});

describe('ProgrammingError', () => {
  it("is the app's own bug: it answers 500 with its message hidden", () => {
    expect(new ProgrammingError('lengths differ').kind).toBe('programming');
    expect(ERROR_STATUS.programming).toEqual({ status: 500, error: 'InternalError', audience: 'hidden' });
  });
});
