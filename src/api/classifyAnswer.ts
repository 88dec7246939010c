// The classify route's answer: a raw image body gets its predictions (or the error of its one image, answered as
// an error response by the caller), a multipart body one entry per file in order, the bad files named with the
// reason and code in place of their predictions, so that one bad file does not cost the batch its answers.
import type { ClassifyOutcome, ImageResult, RejectedImage } from '../serve/classifier';
import { isRejected } from '../serve/classifier';
import { ERROR_STATUS } from './errorStatus';

/** What a multipart answer holds for a file that could not be classified. */
export interface RejectedFileAnswer {
  field?: string;
  fileName?: string;
  /** The error name an image of a raw body would get: BadRequest, or PayloadTooLarge. */
  error: string;
  /** Ingest's rejection code: corrupt-image, not-an-image, file-too-large... */
  code: string;
  /** The reason, naming the file. */
  message: string;
}

/** The multipart answer: the model, the request's timing, and one result per file, in order. */
export function multipartAnswer(outcome: ClassifyOutcome<ImageResult | RejectedImage>): Record<string, unknown> {
  return {
    ...modelFields(outcome),
    results: outcome.results.map((result) => (isRejected(result) ? rejectedFileAnswer(result) : result)),
    timingInMs: outcome.timingInMs,
  };
}

/** The raw-body answer: one image's predictions and timing; a bad image throws before this (its 4xx). */
export function rawAnswer(outcome: ClassifyOutcome): Record<string, unknown> {
  const only = outcome.results[0]!;
  return { ...modelFields(outcome), predictions: only.predictions, timingInMs: only.timingInMs };
}

export function rejectedFileAnswer(rejected: RejectedImage): RejectedFileAnswer {
  const { field, fileName, error } = rejected;
  const name = [
    fileName !== undefined ? `file "${fileName}"` : 'a file',
    ...(field !== undefined ? [`(field "${field}")`] : []),
  ].join(' ');
  return {
    ...(field !== undefined ? { field } : {}),
    ...(fileName !== undefined ? { fileName } : {}),
    error: ERROR_STATUS[error.kind].error,
    code: error.code,
    message: `${name}: ${error.message}`,
  };
}

function modelFields(outcome: ClassifyOutcome<unknown>): Record<string, unknown> {
  return {
    dataset: outcome.dataset,
    modelVersion: outcome.modelVersion,
    task: outcome.task,
    ...(outcome.threshold !== undefined ? { threshold: outcome.threshold } : {}),
  };
}
