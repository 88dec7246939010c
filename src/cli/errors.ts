// What the CLI prints for an error it did not make itself: a sentence that names the value and a fix, not a
// library's raw words (`Invalid URL`, `EISDIR: illegal operation on a directory, read`, sharp's "unsupported image
// format", `connect ECONNREFUSED` after the SDK's retries).
import { RestError } from '@azure/storage-blob';

import { describeValue } from '../util/describeValue';

/** The error as one line for `icf: ...`. `file` names the file being read, when there is one: the line names it. */
export function describeCliError(error: unknown, file?: string): string {
  const { code, path, input, base, message } = (error ?? {}) as Partial<
    NodeJS.ErrnoException & { input: string; base: string }
  >;
  const text = typeof message === 'string' ? message : describeValue(error);
  const where = path ?? file;
  switch (code) {
    case 'ERR_INVALID_URL':
      // new URL(path, base) names the path as its input: the base is what was wrong.
      return `${JSON.stringify(base ?? input ?? '')} is not a URL: give one like http://localhost:7071 (--endpoint, or $ICF_URL)`;
    case 'EISDIR':
      return `${where} is a folder, not a file: name the images in it (${where}/*.jpg)`;
    case 'ENOENT':
      return `${where ?? 'a file'} does not exist (ENOENT): check the path`;
    case 'EACCES':
    case 'EPERM':
      return `${where ?? 'a file'} cannot be read: permission denied (${code})`;
  }
  if (/unsupported image format/i.test(text)) {
    return `${file ?? 'the input'} is not an image this can read: give a JPEG, PNG, WebP, GIF, TIFF, AVIF or BMP (${text})`;
  }
  const unreachable = storageUnreachable(error);
  if (unreachable) return unreachable;
  return file ? `${file}: ${text}` : text;
}

/** A storage call that never reached the service: which endpoint, why, and what to check. */
function storageUnreachable(error: unknown): string | undefined {
  if (!(error instanceof RestError) || error.statusCode !== undefined) return undefined;
  const code = error.code ?? '';
  if (!['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT'].includes(code)) return undefined;
  const url = error.request?.url ? new URL(error.request.url).origin : 'the storage account';
  return (
    `cannot reach the storage account at ${url} (${code}): is Azurite running (npm start starts it)? ` +
    'For another account pass --connection-string, or set $AzureWebJobsStorage'
  );
}
