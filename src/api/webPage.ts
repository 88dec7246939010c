// The web page's files (web/index.html, web/app.css, and web/app.ts as the build compiles it to dist/web/app.js)
// with the headers every one of them is served with: a strict Content-Security-Policy (this origin's script, style,
// images and API only; no inline script or style, no frames, no third-party requests) and no MIME sniffing.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';

import { NotFoundError } from '../errors';
import { projectRoot } from '../util/paths';

export const WEB_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const FILES: Readonly<Record<string, { file: string[]; contentType: string }>> = {
  'index.html': { file: ['web', 'index.html'], contentType: 'text/html; charset=utf-8' },
  'app.css': { file: ['web', 'app.css'], contentType: 'text/css; charset=utf-8' },
  'app.js': { file: ['dist', 'web', 'app.js'], contentType: 'text/javascript; charset=utf-8' },
};

const cache = new Map<string, Promise<Buffer>>();

/** One of the page's files with its headers; NotFoundError for any other name. */
export async function webFile(name: string): Promise<{ body: Buffer; headers: Record<string, string> }> {
  const entry = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
  if (!entry) throw new NotFoundError(`the page has no file "${name}" (it has ${Object.keys(FILES).join(', ')})`);
  let read = cache.get(name);
  if (!read) {
    read = readFile(path.join(projectRoot(), ...entry.file)).catch((error: unknown) => {
      cache.delete(name);
      throw new Error(`${entry.file.join('/')} cannot be read (was the app built with npm run build?)`, {
        cause: error,
      });
    });
    cache.set(name, read);
  }
  return {
    body: await read,
    // The page is small and changes with each deployment: revalidate rather than keep stale copies.
    headers: { 'content-type': entry.contentType, 'cache-control': 'no-cache', ...WEB_SECURITY_HEADERS },
  };
}
