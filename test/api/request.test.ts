// Body and query parsing of POST /classify, without a host or a model.
import { describe, expect, it } from 'vitest';

import { rejectedFileAnswer } from '../../src/api/classifyAnswer';
import { UnsupportedMediaTypeError } from '../../src/api/errors';
import { parseClassifyBody, parseClassifyQuery } from '../../src/api/request';
import { errorResponse } from '../../src/api/responses';
import { InvalidArgumentError } from '../../src/errors';
import { topPredictions } from '../../src/serve/classifier';

/** The HTTP answer a parse failure gets: its status and body as the endpoint sends them. */
async function answerTo(parsing: Promise<unknown>): Promise<{ status: number; jsonBody: unknown }> {
  const error: unknown = await parsing.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (error === undefined) throw new Error('the body was accepted');
  return errorResponse(error, () => undefined);
}

async function multipart(files: { name: string; content: Buffer }[]): Promise<{ type: string; body: Buffer }> {
  const form = new FormData();
  for (const file of files) form.append('file', new Blob([file.content]), file.name);
  const request = new Request('http://x/', { method: 'POST', body: form });
  return { type: request.headers.get('content-type')!, body: Buffer.from(await request.arrayBuffer()) };
}

describe('parseClassifyBody', () => {
  it('takes a raw body as one file and multipart files in order', async () => {
    expect(await parseClassifyBody('image/png', Buffer.from('abc'), 10)).toEqual({
      kind: 'raw',
      files: [{ content: Buffer.from('abc') }],
    });
    expect((await parseClassifyBody(undefined, Buffer.from('abc'), 10)).kind).toBe('raw');
    const { type, body } = await multipart([
      { name: 'a.jpg', content: Buffer.from('first') },
      { name: 'b.jpg', content: Buffer.from('second') },
    ]);
    const parsed = await parseClassifyBody(type, body, 10);
    expect(parsed.files.map((f) => [f.field, f.fileName, f.content.toString()])).toEqual([
      ['file', 'a.jpg', 'first'],
      ['file', 'b.jpg', 'second'],
    ]);
  });

  it('refuses with 400, 413 and 415', async () => {
    await expect(parseClassifyBody('image/jpeg', Buffer.alloc(0), 10)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await answerTo(parseClassifyBody('image/jpeg', Buffer.alloc(11), 10))).toMatchObject({ status: 413 });
    expect(await answerTo(parseClassifyBody('text/plain', Buffer.from('x'), 10))).toMatchObject({ status: 415 });
    await expect(parseClassifyBody('application/json', Buffer.from('{}'), 10)).rejects.toBeInstanceOf(
      UnsupportedMediaTypeError,
    );
    const none = await multipart([]);
    await expect(parseClassifyBody(none.type, none.body, 10)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(parseClassifyBody('multipart/form-data', Buffer.from('x'), 10)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe('parseClassifyQuery', () => {
  const single = (n: number) => ({
    task: 'single-label' as const,
    labels: Array.from({ length: n }, (_, i) => `l${i}`),
  });
  const multi = (n: number) => ({ ...single(n), task: 'multi-label' as const });
  it('defaults top to 5 capped at the labels, and checks top and threshold', () => {
    expect(parseClassifyQuery(new URLSearchParams(), single(3))).toEqual({ top: 3 });
    expect(parseClassifyQuery(new URLSearchParams(), single(10))).toEqual({ top: 5 });
    expect(parseClassifyQuery(new URLSearchParams('top=2&threshold=0.5'), single(10))).toEqual({
      top: 2,
      threshold: 0.5,
    });
    expect(() => parseClassifyQuery(new URLSearchParams('top=0'), single(3))).toThrow(/top/);
    expect(() => parseClassifyQuery(new URLSearchParams('threshold=2'), single(3))).toThrow(/threshold/);
  });

  it('lets a multi-label answer hold every label over the threshold unless top is given', () => {
    expect(parseClassifyQuery(new URLSearchParams(), multi(10))).toEqual({ top: 10 });
    expect(parseClassifyQuery(new URLSearchParams('top=2&threshold=0.3'), multi(10))).toEqual({
      top: 2,
      threshold: 0.3,
    });
  });
});

describe('topPredictions', () => {
  const labels = ['a', 'b', 'c', 'd'];
  const p = Float32Array.from([0.1, 0.7, 0.45, 0.9]);
  it('gives the top N, most probable first', () => {
    expect(topPredictions(p, labels, { top: 2 }).map((x) => x.label)).toEqual(['d', 'b']);
  });
  it('keeps only the labels at or over a threshold', () => {
    expect(topPredictions(p, labels, { top: 4, threshold: 0.45 }).map((x) => x.label)).toEqual(['d', 'b', 'c']);
    expect(topPredictions(p, labels, { top: 4, threshold: 0.95 })).toEqual([]);
  });
});

describe('parseClassifyBody on broken multipart bodies', () => {
  const head =
    '--B\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n';
  it('refuses a body cut inside a file, or one without its closing boundary, with a 400 that says so', async () => {
    for (const body of [`${head}abc`, `${head}abc\r\n`, `${head}abc\r\n--B`]) {
      await expect(parseClassifyBody('multipart/form-data; boundary=B', Buffer.from(body), 100)).rejects.toThrow(
        /the multipart body cannot be read: .*\(a truncated body, or one without its closing boundary\?\)/,
      );
    }
    // The same file, properly closed, is fine.
    const whole = await parseClassifyBody(
      'multipart/form-data; boundary=B',
      Buffer.from(`${head}abc\r\n--B--\r\n`),
      100,
    );
    expect(whole.files.map((f) => f.content.toString())).toEqual(['abc']);
  });

  it('marks a part that is too large as refused, naming the limit, and keeps the other parts', async () => {
    const second = '--B\r\nContent-Disposition: form-data; name="small"; filename="b.jpg"\r\n\r\nok\r\n';
    const parsed = await parseClassifyBody(
      'multipart/form-data; boundary=B',
      Buffer.from(`${head}${'x'.repeat(20)}\r\n${second}--B--\r\n`),
      10,
    );
    expect(parsed.files.map((f) => [f.field, f.fileName, f.content.toString(), f.rejected?.code])).toEqual([
      ['file', 'a.jpg', '', 'file-too-large'],
      ['small', 'b.jpg', 'ok', undefined],
    ]);
    // What the multipart answer holds in the refused file's place.
    expect(rejectedFileAnswer({ field: 'file', fileName: 'a.jpg', error: parsed.files[0]!.rejected! })).toEqual({
      field: 'file',
      fileName: 'a.jpg',
      error: 'PayloadTooLarge',
      code: 'file-too-large',
      message: 'file "a.jpg" (field "file"): the file is larger than the limit of 10 bytes (INGEST_MAX_FILE_BYTES)',
    });
  });

  it('still refuses more than 16 files in one request, whole', async () => {
    const many = await multipart(
      Array.from({ length: 17 }, (_, i) => ({ name: `${i}.jpg`, content: Buffer.from('x') })),
    );
    expect(await answerTo(parseClassifyBody(many.type, many.body, 10))).toMatchObject({
      status: 413,
      jsonBody: {
        error: 'PayloadTooLarge',
        code: 'payload-too-large',
        message: expect.stringMatching(/more than 16 files/),
      },
    });
  });
});
