// Uploads DIR/<label>/<file> into incoming/<dataset>/<label>/<file>, where ingest picks the files up.
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { BlobServiceClient } from '@azure/storage-blob';
import { InvalidArgumentError } from '../errors';
import { INCOMING_CONTAINER } from '../dataset/ingest';
import { assertDatasetName } from '../dataset/names';

export interface UploadFile {
  label: string;
  name: string;
  file: string;
}

export interface UploadOptions {
  dataset: string;
  concurrency?: number;
  onProgress?: (done: number, total: number, file: UploadFile) => void;
}

export interface UploadResult {
  uploaded: number;
  bytes: number;
  /** Files outside DIR/<label>/ (loose files, deeper folders): not uploaded, listed for the user. */
  skipped: string[];
}

/** The files to upload: one folder per label, files directly inside it (hidden files skipped). */
export async function findLabelledFiles(dir: string): Promise<{ files: UploadFile[]; skipped: string[] }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new InvalidArgumentError(`cannot read folder "${dir}": ${(error as Error).message}`);
  }
  const files: UploadFile[] = [];
  const skipped: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    if (!entry.isDirectory()) {
      skipped.push(entry.name);
      continue;
    }
    const labelDir = path.join(dir, entry.name);
    for (const item of (await readdir(labelDir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (item.name.startsWith('.')) continue;
      if (item.isFile()) files.push({ label: entry.name, name: item.name, file: path.join(labelDir, item.name) });
      else skipped.push(path.join(entry.name, item.name));
    }
  }
  return { files, skipped };
}

export async function uploadFolder(blobs: BlobServiceClient, dir: string, options: UploadOptions): Promise<UploadResult> {
  assertDatasetName(options.dataset);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw new InvalidArgumentError(`"${dir}" is not a folder`);
  const { files, skipped } = await findLabelledFiles(dir);
  const container = blobs.getContainerClient(INCOMING_CONTAINER);
  await container.createIfNotExists();
  let next = 0;
  let done = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < files.length) {
      const item = files[next++]!;
      const content = await readFile(item.file);
      // Names are checked by ingest, which records a clear reason for a bad one: upload as they are.
      await container.getBlockBlobClient(`${options.dataset}/${item.label}/${item.name}`).uploadData(content, {
        metadata: { source: 'upload', original_file: asciiOnly(path.basename(item.file)) },
      });
      bytes += content.length;
      done += 1;
      options.onProgress?.(done, files.length, item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
  return { uploaded: done, bytes, skipped };
}

function asciiOnly(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '_');
}
