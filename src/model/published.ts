// The contract of what training publishes, as schemas: the dataset's current-model pointer
// (models/{dataset}/current.json), a version's metrics.json, and a training job's record with its test summary.
// The trainer writes through them (the model registry and the job store validate before they upload), and every
// reader (serving's model cache, the models list, the job routes) parses through them, with an error that names the
// file and the field. They accept what earlier versions stored: fields added since are optional or defaulted.
import { z } from 'zod';

import { AppError, messageOf } from '../errors';

/** A stored file (or table row) that does not follow the contract; the message names it and the field. */
/** The built-in backbone's name: what a job trains on and a pointer names when they say nothing. */
export const DEFAULT_BACKBONE = 'resnet50-keras';

/** What the trainer may vary in its augmented views: part of a training job's options. */
export const augmentationPolicySchema = z
  .object({
    horizontalFlip: z.boolean(),
    verticalFlip: z.boolean(),
    /** Rotation drawn uniformly from [-max, max] degrees. */
    maxRotationDeg: z.number().min(0).max(45),
    /** Zoom drawn from [1, max]: a crop of 1/zoom of each side, at a random place. */
    maxZoom: z.number().min(1).max(2),
    /** Brightness and contrast each drawn from [1 - lighting, 1 + lighting]. */
    lighting: z.number().min(0).max(0.9),
  })
  .strict();

export type AugmentationPolicy = z.infer<typeof augmentationPolicySchema>;

export class PublishedFileError extends AppError {
  override name = 'PublishedFileError';
  readonly kind = 'unsupported-content';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

export const modelTaskSchema = z.enum(['single-label', 'multi-label'], {
  message: 'must be "single-label" or "multi-label"',
});
export type ModelTask = z.output<typeof modelTaskSchema>;

const share = z.number().min(0).max(1);

/** How the classifier renders an image (the same type as preprocessing's `ViewResize`). */
export const viewResizeSchema = z.discriminatedUnion(
  'mode',
  [
    z.object({
      mode: z.literal('centre-crop'),
      cropFraction: z.number({ message: 'must be a number in (0, 1]' }).gt(0).max(1),
    }),
    z.object({ mode: z.literal('squash') }),
  ],
  { message: 'mode must be "centre-crop" or "squash"' },
);

export const modelPointerSchema = z.object({
  version: z.string().min(1),
  jobId: z.string().min(1),
  /** Absent in the first models, which were all single-label. */
  task: modelTaskSchema.default('single-label'),
  /** The backbone inside the model, and the side of the square input it takes (the classifier renders to it). */
  backbone: z.string().min(1).default(DEFAULT_BACKBONE),
  inputSize: z.number().int().min(1).max(4096).default(224),
  /** How the classifier renders an image; absent in models published before it was recorded, which squash. */
  resize: viewResizeSchema.default(() => ({ mode: 'squash' as const })),
  /**
   * On the test split: top-1 accuracy (single-label), or the share of images whose whole label set is right at
   * `threshold` (multi-label). Single-label models are compared by it.
   */
  accuracy: share,
  /** Multi-label: mean average precision on the test split, which multi-label models are compared by. */
  mAP: share.optional(),
  /** Multi-label: a label is predicted when its probability is at least this (chosen by the trainer). */
  threshold: share.optional(),
  testImages: z.number().int().min(0),
  labels: z.array(z.string().min(1)).min(1),
  publishedAt: z.string().min(1),
});

/** The pointer as read (defaults applied). */
export type ModelPointer = z.output<typeof modelPointerSchema>;
/** The pointer as a writer gives it (fields with defaults may be left out). */
export type ModelPointerInput = z.input<typeof modelPointerSchema>;

const learningCurveVerdict = z.looseObject({
  converged: z.boolean(),
  verdict: z.string(),
  /** What doubling the training images would likely add (null where the fit had nothing to go on). */
  gainPerDoubling: z.number().nullable().optional(),
  /** The test images each point was measured on (absent in models from before the verdict weighed them). */
  testImages: z.number().int().min(1).optional(),
  /** Half the 95 % Wilson interval of the last point over those test images (fraction, as gainPerDoubling). */
  testInterval: z.number().min(0).optional(),
  /** True when the change per doubling is within testInterval: the verdict says there are too few to tell. */
  tooFewTestImages: z.boolean().optional(),
});

const gpuSummarySchema = z.object({
  name: z.string(),
  samples: z.number(),
  meanUtilizationPercent: z.number(),
  peakUtilizationPercent: z.number(),
  peakMemoryMiB: z.number(),
  totalMemoryMiB: z.number(),
});

const recipeSummarySchema = z.looseObject({
  /** The chosen recipe in words. */
  chosen: z.string(),
  /** Each candidate's inner-CV score (accuracy, or mAP for multi-label), by candidate name. */
  innerCV: z.record(z.string(), z.number().nullable()),
  /** Stages of the search skipped, with the reason. */
  skipped: z.array(z.string()),
});

/** The registered test metrics of the model's task (src/train/testMetrics/), by name; null where not computable. */
const testMetricsSchema = z.record(z.string(), z.number().nullable());

/** A version's metrics.json: the test-split evaluation with the recipe, head, learning curve and options. */
export const modelMetricsSchema = z.looseObject({
  /** Absent in models from before multi-label training: single-label. */
  task: modelTaskSchema.optional(),
  labels: z.array(z.string()).optional(),
  /** Single-label: top-1 accuracy on the test split. */
  accuracy: share.optional(),
  /** Multi-label: the share of test images whose whole label set is right at the threshold. */
  zeroOneAccuracy: share.optional(),
  /** Multi-label: mean average precision (null when no label has a positive test image). */
  mAP: share.nullable().optional(),
  threshold: share.optional(),
  /** Test images evaluated. */
  count: z.number().int().min(0).optional(),
  macro: z.looseObject({ f1: z.number().nullable().optional() }).optional(),
  /** Single-label: top-k accuracy by k. */
  topK: z.record(z.string(), share).optional(),
  learningCurve: learningCurveVerdict
    .extend({
      metric: z.string().optional(),
      points: z.array(z.looseObject({ trainingImages: z.number(), accuracy: z.number().nullable() })),
    })
    .optional(),
  recipe: recipeSummarySchema.optional(),
  gpu: gpuSummarySchema.nullable().optional(),
  testMetrics: testMetricsSchema.optional(),
});
export type ModelMetrics = z.output<typeof modelMetricsSchema>;

/** A training job's test-split summary (its `metrics`), what the job routes report. */
export const jobMetricsSchema = z.looseObject({
  /** Absent in jobs from before multi-label training: single-label. */
  task: modelTaskSchema.optional(),
  /** Top-1 accuracy, or for multi-label models the share of exact label sets. */
  accuracy: share,
  topK: z.record(z.string(), share).optional(),
  macroF1: z.number().nullable().optional(),
  mAP: share.optional(),
  hammingAccuracy: share.optional(),
  threshold: share.optional(),
  testMetrics: testMetricsSchema.optional(),
  testImages: z.number().int().min(0),
  trainImages: z.number().int().min(0),
  /** Absent in jobs from before the recipe search. */
  recipe: recipeSummarySchema.optional(),
  learningCurve: learningCurveVerdict,
  gpu: gpuSummarySchema.optional(),
});
export type JobMetrics = z.output<typeof jobMetricsSchema>;

export const jobStatusSchema = z.enum(['queued', 'running', 'succeeded', 'failed']);
export type JobStatus = z.output<typeof jobStatusSchema>;

/** A train request's options, as `parseTrainOptions` (jobs.ts) validates them. */
export interface TrainOptions {
  backbone: string;
  /** Absent: the backbone's own size (224 for the built-in one). */
  inputSize?: number;
  augmentedViews: number;
  searchBudgetInS: number;
  augmentation: AugmentationPolicy;
  force: boolean;
}

/** A training job as stored and reported: what was asked, where it is, and its results. */
export const trainJobSchema = z.object({
  dataset: z.string().min(1),
  jobId: z.string().min(1),
  status: jobStatusSchema,
  /** What the trainer is doing: queued, launching, loading, features, training, evaluating, publishing, done. */
  stage: z.string(),
  /** 0..1 within the whole job. */
  progress: share,
  /** As `parseTrainOptions` validated them when the job was asked for. */
  options: z.custom<TrainOptions>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
    message: 'must be an object',
  }),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  /** The trainer's last sign of life while running (it beats every HEARTBEAT_INTERVAL_MS). */
  heartbeatAt: z.string().optional(),
  finishedAt: z.string().optional(),
  launcher: z.string().optional(),
  executionName: z.string().optional(),
  error: z.string().optional(),
  /** Test-split summary once evaluated. */
  metrics: jobMetricsSchema.optional(),
  modelVersion: z.string().optional(),
  /** Whether the model became the dataset's current one, and why (not) in `publishNote`. */
  published: z.boolean().optional(),
  publishNote: z.string().optional(),
});
export type TrainJob = z.output<typeof trainJobSchema>;

/**
 * Validates `value` (JSON text, or the value itself) read from `file` against `schema`; a PublishedFileError names
 * the file and each field that is wrong.
 */
export function parsePublished<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  file: string,
): z.output<Schema> {
  let json = value;
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    try {
      json = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
    } catch (error) {
      throw new PublishedFileError(file, `${file} is not valid JSON: ${messageOf(error)}`);
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new PublishedFileError(file, `${file} is invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/**
 * What a writer stores for `value`: validated as a reader will read it (after the JSON round trip, which turns a
 * NaN into null), as JSON text. The writer's mistake is reported before anything is uploaded.
 */
export function formatPublished<Schema extends z.ZodType>(
  schema: Schema,
  value: z.input<Schema>,
  file: string,
  options: { indent?: number } = {},
): string {
  const parsed = schema.safeParse(JSON.parse(JSON.stringify(value)));
  if (!parsed.success) throw new PublishedFileError(file, `refusing to write ${file}: ${describeIssues(parsed.error)}`);
  return JSON.stringify(parsed.data, null, options.indent ?? 2);
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(the whole file)'}: ${issue.message}`).join('; ');
}
