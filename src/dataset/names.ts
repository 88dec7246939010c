// Dataset, label and file names become blob paths and table keys: validate them in one place.
import { InvalidArgumentError, ProgrammingError } from '../errors';

/** Like a container name: lower-case letters, digits and single hyphens, 3-63 characters. */
const DATASET_PATTERN = /^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/;
/** Letters, digits, space, '.', '_' and '-', starting with a letter or digit, at most 64 characters. */
const LABEL_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$/u;
const FILE_NAME_MAX_LENGTH = 255;
// Control characters and the characters that table keys or Windows paths cannot hold.
// eslint-disable-next-line no-control-regex -- control characters are what this pattern exists to refuse
const FILE_NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029/\\#?]/u;

export function checkDatasetName(value: string): string | undefined {
  return DATASET_PATTERN.test(value)
    ? undefined
    : `dataset name "${printable(value)}" is invalid: use 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit`;
}

export function checkLabelName(value: string): string | undefined {
  if (!LABEL_PATTERN.test(value) || value.includes('..') || value.endsWith('.') || value.endsWith(' ')) {
    return `label "${printable(value)}" is invalid: use 1-64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit, without '..' and not ending in '.' or a space`;
  }
  return undefined;
}

export function checkFileName(value: string): string | undefined {
  if (value.length === 0 || value.length > FILE_NAME_MAX_LENGTH) {
    return `file name must have 1-${FILE_NAME_MAX_LENGTH} characters`;
  }
  if (FILE_NAME_FORBIDDEN.test(value) || value === '.' || value === '..') {
    return `file name "${printable(value)}" is invalid: it must not contain folders, control characters, line separators, '\\', '#' or '?'`;
  }
  return undefined;
}

export function assertDatasetName(value: string): string {
  const problem = checkDatasetName(value);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}

export function assertLabelName(value: string): string {
  const problem = checkLabelName(value);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}

/**
 * Joins the labels of a multi-label image in its folder name: `incoming/{dataset}/can+carton/{file}`. '+' cannot
 * occur in a label, so the folder name says unambiguously which labels an image has, whoever uploaded it.
 */
export const LABEL_SET_SEPARATOR = '+';

/** The labels a label folder names: one, or several joined by '+'. */
export function labelsOf(labelFolder: string): string[] {
  return labelFolder.split(LABEL_SET_SEPARATOR);
}

/** The label folder for a set of labels: sorted and without repeats, so one set has one folder. */
export function labelFolderFor(labels: readonly string[]): string {
  // Callers pass labels a parser has checked (labels.csv needs one per row): none is their bug, not the user's.
  if (labels.length === 0) throw new ProgrammingError('labelFolderFor: an image needs at least one label');
  for (const label of labels) assertLabelName(label);
  return [...new Set(labels)].sort().join(LABEL_SET_SEPARATOR);
}

/** A label folder: one label, or several different labels joined by '+'. */
export function checkLabelFolder(value: string): string | undefined {
  const labels = labelsOf(value);
  for (const label of labels) {
    const problem = checkLabelName(label);
    if (problem) return labels.length > 1 ? `label set "${printable(value)}": ${problem}` : problem;
  }
  if (new Set(labels).size !== labels.length) return `label set "${printable(value)}" names a label twice`;
  return undefined;
}

/** The parts of `{dataset}/{label}/{name}` inside the incoming container. */
export interface ImagePath {
  dataset: string;
  /** The label folder: one label, or a multi-label image's labels joined by '+'. */
  label: string;
  name: string;
}

/** Splits a blob name of the incoming container; returns the parts, or the reason they are unusable. */
export function parseImagePath(blobName: string): { path: ImagePath } | { problem: string } {
  const parts = blobName.split('/');
  if (parts.length !== 3) {
    return { problem: `blob "${printable(blobName)}" is not of the form {dataset}/{label}/{file}` };
  }
  const [dataset, label, name] = parts as [string, string, string];
  const problem = checkDatasetName(dataset) ?? checkLabelFolder(label) ?? checkFileName(name);
  return problem ? { problem } : { path: { dataset, label, name } };
}

// Names end up in logs and JSON: keep them readable and bounded (JSON.stringify leaves U+2028 and U+2029 raw).
function printable(value: string): string {
  const escaped = JSON.stringify(value)
    .slice(1, -1)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  return escaped.length > 80 ? `${escaped.slice(0, 77)}...` : escaped;
}
