// The classify request body: a raw image (application/octet-stream, image/*, or no content type) or
// multipart/form-data with one or more files. Limits are the ingest's: each file at most
// INGEST_MAX_FILE_BYTES; a multipart body at most that times MAX_FILES_PER_REQUEST (plus 64 KiB of part headers).
// A multipart file over the limit is marked refused, not the whole request, so that the other files are answered.
import busboy from 'busboy';

import { ImageRejectedError } from '../dataset/validate';
import { invalidArgument, InvalidArgumentError, messageOf, PayloadTooLargeError } from '../errors';
import type { ClassifyOptions, ServedModelInfo } from '../serve/classifier';
import type { UploadedFile } from '../serve/uploadedFile';
import { UnsupportedMediaTypeError } from './errors';

/** Files one multipart request may carry (one model batch). */
export const MAX_FILES_PER_REQUEST = 16;

export interface ClassifyBody {
  kind: 'raw' | 'multipart';
  files: UploadedFile[];
}

function tooLarge(what: string, bytes: number | string, limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `${what} has ${bytes} bytes, more than the limit of ${limit} (INGEST_MAX_FILE_BYTES)`,
  );
}

/** Splits a request body into image files; throws InvalidArgumentError, PayloadTooLargeError or UnsupportedMediaTypeError. */
export async function parseClassifyBody(
  contentType: string | null | undefined,
  body: Buffer,
  maxFileBytes: number,
): Promise<ClassifyBody> {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'multipart/form-data') {
    // Room for the parts' headers and boundaries besides the files themselves.
    const limit = maxFileBytes * MAX_FILES_PER_REQUEST + 64 * 1024;
    if (body.length > limit) throw tooLarge('the multipart body', body.length, limit);
    const files = await parseMultipart(contentType!, body, maxFileBytes);
    if (files.length === 0)
      throw new InvalidArgumentError('the multipart body has no file; send the image(s) as file fields');
    return { kind: 'multipart', files };
  }
  if (type === '' || type === 'application/octet-stream' || type.startsWith('image/')) {
    if (body.length === 0)
      throw new InvalidArgumentError(
        'the request body is empty; send the image bytes (or multipart/form-data with files)',
      );
    if (body.length > maxFileBytes) throw tooLarge('the image', body.length, maxFileBytes);
    return { kind: 'raw', files: [{ content: body }] };
  }
  throw new UnsupportedMediaTypeError(
    `content type "${type}" is not accepted: send the image bytes as application/octet-stream or image/*, or files as multipart/form-data`,
  );
}

function parseMultipart(contentType: string, body: Buffer, maxFileBytes: number): Promise<UploadedFile[]> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        limits: { fileSize: maxFileBytes, files: MAX_FILES_PER_REQUEST },
      });
    } catch (error) {
      // A multipart content type without a boundary, for one.
      reject(new InvalidArgumentError(`the multipart body cannot be read: ${messageOf(error)}`));
      return;
    }
    const files: Promise<UploadedFile>[] = [];
    let failure: Error | undefined;
    let settled = false;
    const fail = (error: Error) => {
      failure ??= error;
      finish();
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      void Promise.all(files).then((all) => (failure ? reject(failure) : resolve(all)));
    };
    const unreadable = (error: Error) =>
      new InvalidArgumentError(
        `the multipart body cannot be read: ${error.message} (a truncated body, or one without its closing boundary?)`,
      );
    parser.on('file', (field, stream, info) => {
      files.push(
        new Promise((done) => {
          const chunks: Buffer[] = [];
          let rejected: ImageRejectedError | undefined;
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          // busboy truncates at fileSize and says so with 'limit'.
          stream.on('limit', () => {
            rejected = new ImageRejectedError(
              'file-too-large',
              `the file is larger than the limit of ${maxFileBytes} bytes (INGEST_MAX_FILE_BYTES)`,
            );
          });
          // A body that ends inside a file errors the file's stream: an 'error' with no listener would end the process.
          stream.on('error', (error: Error) => {
            failure ??= unreadable(error);
            done({ field, fileName: info.filename, content: Buffer.alloc(0) });
          });
          stream.on('close', () =>
            done({
              field,
              fileName: info.filename,
              content: rejected ? Buffer.alloc(0) : Buffer.concat(chunks),
              ...(rejected ? { rejected } : {}),
            }),
          );
        }),
      );
    });
    parser.on('filesLimit', () => {
      failure ??= new PayloadTooLargeError(`more than ${MAX_FILES_PER_REQUEST} files in one request; split the batch`);
    });
    parser.on('error', (error: Error) => fail(unreadable(error)));
    parser.on('close', finish);
    parser.end(body);
  });
}

/**
 * Parses `top` (1..labels, capped at the label count; default 5 for single-label models and every label over the
 * threshold for multi-label ones) and `threshold` (0..1, optional).
 */
export function parseClassifyQuery(query: URLSearchParams, model: ServedModelInfo): ClassifyOptions {
  const labelCount = model.labels.length;
  const rawTop = query.get('top');
  let top = model.task === 'multi-label' ? labelCount : Math.min(5, labelCount);
  if (rawTop !== null && rawTop !== '') {
    const parsed = Number(rawTop);
    if (!Number.isInteger(parsed) || parsed < 1)
      throw invalidArgument('top', `a whole number from 1 to ${labelCount}`, rawTop);
    top = Math.min(parsed, labelCount);
  }
  const rawThreshold = query.get('threshold');
  if (rawThreshold === null || rawThreshold === '') return { top };
  const threshold = Number(rawThreshold);
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1)
    throw invalidArgument('threshold', 'a number from 0 to 1', rawThreshold);
  return { top, threshold };
}
