// Uploads DIR/<label>/<file> into incoming/<dataset>/<label>/<file>, where ingest picks the files up; or, for a
// multi-label folder (DIR/images/ and DIR/labels.csv), each listed image into incoming/<dataset>/<a>+<b>/<file>.
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';

import type { BlobServiceClient } from '@azure/storage-blob';

import { IMAGES_FOLDER, isMultiLabelFolder, readMultiLabelFolder } from '../dataset/labelsCsv';
import { assertDatasetName, labelFolderFor } from '../dataset/names';
import { InvalidArgumentError, messageOf } from '../errors';
import { INCOMING_CONTAINER, incomingBlobName } from '../storage/names';

export interface UploadFile {
  /** The label folder: the label, or a multi-label image's labels joined by '+' (labelFolderFor). */
  label: string;
  name: string;
  file: string;
  /** Multi-label folders: the image's labels, as labels.csv lists them. */
  labels?: string[];
}

export interface UploadOptions {
  dataset: string;
  concurrency?: number;
  onProgress?: (done: number, total: number, file: UploadFile) => void;
}

export interface UploadResult {
  /** 'multi-label' when DIR has labels.csv. */
  layout: 'single-label' | 'multi-label';
  uploaded: number;
  /** The uploaded blobs' names in the incoming container, in upload order (what ingest records them under). */
  blobNames: string[];
  bytes: number;
  /**
   * Not uploaded, listed for the user: files outside DIR/<label>/ (loose files, deeper folders), or, for a
   * multi-label folder, entries of images/ that labels.csv does not list (as `images/<name>`).
   */
  skipped: string[];
}

/**
 * The images labels.csv lists, each with its label folder; a bad labels.csv (invalid labels, missing images...)
 * fails here, before anything is uploaded.
 */
export async function findMultiLabelFiles(dir: string): Promise<{ files: UploadFile[]; skipped: string[] }> {
  const folder = await readMultiLabelFolder(dir);
  return {
    files: folder.files.map((f) => ({ label: labelFolderFor(f.labels), name: f.name, file: f.path, labels: f.labels })),
    skipped: folder.unlisted.map((name) => `${IMAGES_FOLDER}/${name}`),
  };
}

/** The files to upload: one folder per label, files directly inside it (hidden files skipped). */
export async function findLabelledFiles(dir: string): Promise<{ files: UploadFile[]; skipped: string[] }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new InvalidArgumentError(`cannot read folder "${dir}": ${messageOf(error)}`);
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
    for (const item of (await readdir(labelDir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (item.name.startsWith('.')) continue;
      if (item.isFile()) files.push({ label: entry.name, name: item.name, file: path.join(labelDir, item.name) });
      else skipped.push(path.join(entry.name, item.name));
    }
  }
  return { files, skipped };
}

/** How each folder layout lists its images. */
const FIND_FILES: Readonly<Record<UploadResult['layout'], (dir: string) => ReturnType<typeof findLabelledFiles>>> = {
  'single-label': findLabelledFiles,
  'multi-label': findMultiLabelFiles,
};

export async function uploadFolder(
  blobs: BlobServiceClient,
  dir: string,
  options: UploadOptions,
): Promise<UploadResult> {
  assertDatasetName(options.dataset);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory())
    throw new InvalidArgumentError(`"${dir}" is not a folder`);
  const layout = (await isMultiLabelFolder(dir)) ? 'multi-label' : 'single-label';
  const { files, skipped } = await FIND_FILES[layout](dir);
  const container = blobs.getContainerClient(INCOMING_CONTAINER);
  await container.createIfNotExists();
  let next = 0;
  let done = 0;
  let bytes = 0;
  const blobNames: string[] = [];
  const worker = async () => {
    while (next < files.length) {
      const item = files[next++]!;
      const content = await readFile(item.file);
      // Folder and file names are checked by ingest, which records a clear reason for a bad one: upload as they are
      // (labels.csv, which only this tool reads, was checked above).
      const blobName = incomingBlobName(options.dataset, item.label, item.name);
      await container.getBlockBlobClient(blobName).uploadData(content, {
        metadata: {
          source: 'upload',
          original_file: asciiOnly(path.basename(item.file)),
          ...(item.labels ? { labels: asciiOnly(item.labels.join(' ')) } : {}),
        },
      });
      bytes += content.length;
      blobNames.push(blobName);
      done += 1;
      options.onProgress?.(done, files.length, item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
  return { layout, uploaded: done, blobNames, bytes, skipped };
}

function asciiOnly(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '_');
}
