// Identity as Custom Vision's SDKs demand it: every project, tag, iteration and image id is a UUID (the SDKs refuse
// anything else before sending), while the app names datasets, labels and catalog rows its own way. Projects and
// tags get random UUIDs, stored with what they map to; an image's UUID is derived from its catalog id, so it needs
// no stored mapping and stays the same however often it is listed.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';

import { checkDatasetName, checkLabelName } from '../dataset/names';
import { CustomVisionError } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function newId(): string {
  return randomUUID();
}

/** A UUID from the path or the query, lower-cased; Custom Vision's 400 for anything else. */
export function parseId(value: string | undefined | null, what: string): string {
  if (value === undefined || value === null || !UUID.test(value))
    throw new CustomVisionError(400, 'BadRequestInvalidIds', `${what} "${value ?? ''}" is not a UUID`);
  return value.toLowerCase();
}

/** The image UUID of a catalog row: a name-based UUID (version 5 layout) of the dataset and the row's id. */
export function imageUuid(dataset: string, catalogId: string): string {
  const hash = createHash('sha256').update(`${dataset}\n${catalogId}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The dataset a new project gets: `cv-`, its name's letters and digits (lower case, hyphens between words) and the
 * first 8 hex digits of its id, within the 63 characters of a dataset name.
 */
export function datasetNameFor(projectName: string, projectId: string): string {
  const suffix = projectId.replace(/-/g, '').slice(0, 8);
  const slug = projectName
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63 - 'cv-'.length - suffix.length - 1)
    .replace(/-+$/g, '');
  const name = slug ? `cv-${slug}-${suffix}` : `cv-${suffix}`;
  const problem = checkDatasetName(name);
  if (problem) throw new Error(`derived dataset name "${name}" is invalid: ${problem}`);
  return name;
}

/**
 * The label a tag's images get: the tag's name where it is a valid label, else its letters, digits, spaces, `.`,
 * `_` and `-` with anything else as `_` (64 at most); `taken` (the project's other labels, lower-cased) makes it
 * unique with a `-2`, `-3`... suffix.
 */
export function labelForTag(tagName: string, taken: ReadonlySet<string>): string {
  let base = tagName
    .trim()
    .replace(/[^\p{L}\p{N} ._-]/gu, '_')
    .replace(/\.{2,}/g, '.')
    .replace(/^[^\p{L}\p{N}]+/u, '')
    .slice(0, 60);
  if (!base || checkLabelName(base)) base = 'tag';
  let label = base;
  for (let n = 2; taken.has(label.toLowerCase()); n++) label = `${base}-${n}`;
  return label;
}

/** Compares two secrets in constant time (their SHA-256 digests, so that lengths leak nothing either). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
