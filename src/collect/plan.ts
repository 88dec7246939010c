// Collection plans: lists of terms whose combinations make the search queries, and which terms name the
// label. Stored per dataset as the blob config/{dataset}/collection.json; validated on load.
import { z } from 'zod';

import { checkLabelName } from '../dataset/names';
import { InvalidArgumentError } from '../errors';
import { SEARCH_PROVIDER_NAMES, type SearchProviderName } from './providers/registry';
import type { SearchFilters } from './types';

const TEMPLATE_FIELD = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const filtersSchema = z
  .object({
    imageType: z
      .enum(['AnimatedGif', 'AnimatedGifHttps', 'Clipart', 'Line', 'Photo', 'Shopping', 'Transparent'])
      .optional(),
    safeSearch: z.enum(['Off', 'Moderate', 'Strict']).optional(),
    license: z.enum(['All', 'Any', 'Public', 'Share', 'ShareCommercially', 'Modify', 'ModifyCommercially']).optional(),
    minWidth: z.number().int().min(1).max(10_000).optional(),
    minHeight: z.number().int().min(1).max(10_000).optional(),
    market: z
      .string()
      .regex(/^[a-z]{2}-[A-Z]{2}$/, 'must be a market code such as en-US')
      .optional(),
    freshness: z.enum(['Day', 'Week', 'Month']).optional(),
    requireCommercialUse: z.boolean().optional(),
    requireModification: z.boolean().optional(),
  })
  .strict();

/** Bounds that keep validating and synthesising a plan cheap, whatever a caller sends. */
export const PLAN_LIMITS = {
  /** A stored plan's JSON, in bytes. */
  bytes: 64 * 1024,
  dimensions: 16,
  termsPerDimension: 500,
  templateLength: 500,
} as const;

const planSchema = z
  .object({
    /** Named lists of terms; every combination of one term from each makes a query. */
    dimensions: z
      .record(
        z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'dimension names are identifiers such as "item"')
          .max(64),
        z
          .array(z.string().trim().min(1, 'terms must not be empty').max(100))
          .min(1, 'needs at least one term')
          .max(PLAN_LIMITS.termsPerDimension, `at most ${PLAN_LIMITS.termsPerDimension} terms per dimension`),
      )
      .refine(
        (dimensions) => Object.keys(dimensions).length <= PLAN_LIMITS.dimensions,
        `at most ${PLAN_LIMITS.dimensions} dimensions`,
      ),
    /** How a combination reads as a query, e.g. "{attribute} {item}". */
    template: z.string().min(1).max(PLAN_LIMITS.templateLength),
    /** The dimension(s) whose terms make the label; several are joined with "-". */
    labelFrom: z.union([z.string(), z.array(z.string()).min(1)]),
    imagesPerQuery: z.number().int().min(1).max(1000).default(50),
    provider: z.enum(SEARCH_PROVIDER_NAMES).default('bing'),
    filters: filtersSchema.default({ imageType: 'Photo', safeSearch: 'Strict' }),
  })
  .strict();

export type CollectionPlanInput = z.input<typeof planSchema>;

export interface CollectionPlan {
  dimensions: Record<string, string[]>;
  template: string;
  labelFrom: string[];
  imagesPerQuery: number;
  provider: SearchProviderName;
  filters: SearchFilters;
}

export interface PlannedQuery {
  query: string;
  label: string;
  /** The term taken from each dimension. */
  terms: Record<string, string>;
}

/** At most this many queries per plan: a run enqueues one message per query. */
export const MAX_QUERIES_PER_PLAN = 2000;

/** Validates a plan; errors name the field, e.g. `labelFrom: "colour" is not a dimension`. */
export function parsePlan(json: unknown, source = 'collection plan'): CollectionPlan {
  const parsed = planSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(plan)'}: ${issue.message}`);
    throw new InvalidArgumentError(`${source} is invalid: ${problems.join('; ')}`);
  }
  const plan = parsed.data;
  const dimensions = Object.keys(plan.dimensions);
  if (dimensions.length === 0)
    throw new InvalidArgumentError(`${source} is invalid: dimensions: needs at least one dimension`);
  const labelFrom = typeof plan.labelFrom === 'string' ? [plan.labelFrom] : plan.labelFrom;
  const problems: string[] = [];
  for (const name of labelFrom) {
    if (!dimensions.includes(name)) problems.push(`labelFrom: "${name}" is not a dimension (${dimensions.join(', ')})`);
  }
  const used = new Set([...plan.template.matchAll(TEMPLATE_FIELD)].map((match) => match[1]!));
  for (const name of used) {
    if (!dimensions.includes(name)) problems.push(`template: {${name}} is not a dimension (${dimensions.join(', ')})`);
  }
  for (const name of dimensions) {
    if (!used.has(name)) problems.push(`template: dimension "${name}" is not used; add {${name}}`);
    const seen = new Set<string>();
    const repeated = plan.dimensions[name]!.find((term) => seen.size === seen.add(term).size);
    if (repeated) problems.push(`dimensions.${name}: "${repeated}" appears twice`);
  }
  const count = dimensions.reduce((product, name) => product * plan.dimensions[name]!.length, 1);
  if (count > MAX_QUERIES_PER_PLAN)
    problems.push(`dimensions: ${count} combinations, more than ${MAX_QUERIES_PER_PLAN}`);
  if (problems.length > 0) throw new InvalidArgumentError(`${source} is invalid: ${problems.join('; ')}`);
  const result: CollectionPlan = { ...plan, labelFrom, filters: plan.filters };
  // Every label the plan can make must be a valid label name.
  const badLabel = synthesizeQueries(result).find(({ label }) => checkLabelName(label) !== undefined);
  if (badLabel) {
    throw new InvalidArgumentError(
      `${source} is invalid: labelFrom: ${checkLabelName(badLabel.label)!} (from query "${badLabel.query}")`,
    );
  }
  return result;
}

/**
 * Every combination of terms, in a stable order (dimensions as declared, terms as listed, the last dimension
 * varying fastest). Linear in its output: each combination is built once from an odometer of term indices, not
 * copied from partial combinations once per dimension.
 */
export function synthesizeQueries(plan: CollectionPlan): PlannedQuery[] {
  const dimensions = Object.entries(plan.dimensions);
  const count = dimensions.reduce((product, [, terms]) => product * terms.length, 1);
  const digits = new Array<number>(dimensions.length).fill(0);
  const queries: PlannedQuery[] = [];
  for (let q = 0; q < count; q++) {
    const terms: Record<string, string> = {};
    dimensions.forEach(([name, values], d) => (terms[name] = values[digits[d]!]!));
    queries.push({
      query: plan.template
        .replace(TEMPLATE_FIELD, (_, name: string) => terms[name]!)
        .replace(/\s+/g, ' ')
        .trim(),
      label: plan.labelFrom.map((name) => terms[name]!).join('-'),
      terms,
    });
    for (let d = dimensions.length - 1; d >= 0; d--) {
      if (++digits[d]! < dimensions[d]![1].length) break;
      digits[d] = 0;
    }
  }
  return queries;
}
