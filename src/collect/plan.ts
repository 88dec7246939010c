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
  /** One synthesised query, in characters: a template repeating a field can make one of many kilobytes. */
  queryChars: 500,
  /**
   * The synthesised queries as JSON (what PUT and GET of a plan answer), in bytes: a 51 KB plan once expanded to
   * 32.7 MB on every request.
   */
  expansionBytes: 1024 * 1024,
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
  // The expansion's size is known from the terms alone: a plan that would expand too far is refused unexpanded.
  const expansion = planExpansion(result);
  if (expansion.longestQueryChars > PLAN_LIMITS.queryChars)
    problems.push(
      `template: the longest query would have ${expansion.longestQueryChars} characters, more than ${PLAN_LIMITS.queryChars} (PLAN_LIMITS.queryChars); use each dimension's field once or shorter terms`,
    );
  if (expansion.bytes > PLAN_LIMITS.expansionBytes)
    problems.push(
      `dimensions: the ${expansion.queries} queries would take about ${expansion.bytes} bytes of JSON, more than ${PLAN_LIMITS.expansionBytes} (PLAN_LIMITS.expansionBytes); use fewer or shorter terms`,
    );
  if (problems.length > 0) throw new InvalidArgumentError(`${source} is invalid: ${problems.join('; ')}`);
  // Every label the plan can make must be a valid label name; the labels' dimensions alone are enumerated.
  const labelDimensions = labelFrom.map((name) => plan.dimensions[name]!);
  for (const combination of odometer(labelDimensions.map((terms) => terms.length))) {
    const label = combination.map((t, d) => labelDimensions[d]![t]!).join('-');
    const problem = checkLabelName(label);
    if (problem !== undefined) {
      const terms = Object.fromEntries(dimensions.map((name) => [name, plan.dimensions[name]![0]!]));
      labelFrom.forEach((name, d) => (terms[name] = labelDimensions[d]![combination[d]!]!));
      throw new InvalidArgumentError(
        `${source} is invalid: labelFrom: ${problem} (from query "${queryOf(result.template, terms)}")`,
      );
    }
  }
  return result;
}

/** What synthesising a plan would make, computed from its terms without synthesising it. */
export interface PlanExpansion {
  queries: number;
  /** The longest query, in characters, before runs of whitespace are collapsed (so at least the real one). */
  longestQueryChars: number;
  /** The JSON of the synthesised queries, in UTF-8 bytes, from above (whitespace not collapsed). */
  bytes: number;
}

/**
 * The size of a plan's expansion. Each term of a dimension of n terms appears in count / n queries, so the sums
 * over all queries are sums over terms; cost linear in the plan, whatever the expansion.
 */
export function planExpansion(plan: CollectionPlan): PlanExpansion {
  const dimensions = Object.entries(plan.dimensions);
  const count = dimensions.reduce((product, [, terms]) => product * terms.length, 1);
  // A string's bytes inside JSON quotes: escaping is per character, so the pieces add up to the whole.
  const jsonBytes = (text: string) => Buffer.byteLength(JSON.stringify(text)) - 2;
  const uses = new Map<string, number>();
  for (const match of plan.template.matchAll(TEMPLATE_FIELD)) uses.set(match[1]!, (uses.get(match[1]!) ?? 0) + 1);
  const literal = plan.template.replace(TEMPLATE_FIELD, '');
  let longestQueryChars = literal.length;
  let queryBytes = count * jsonBytes(literal);
  let labelBytes = count * Math.max(0, plan.labelFrom.length - 1);
  let termsBytes = count * 2; // {}
  for (const [name, terms] of dimensions) {
    const perTerm = count / terms.length;
    const termBytes = terms.reduce((sum, term) => sum + jsonBytes(term), 0);
    const used = uses.get(name) ?? 0;
    longestQueryChars += used * Math.max(...terms.map((term) => term.length));
    queryBytes += used * perTerm * termBytes;
    labelBytes += plan.labelFrom.filter((label) => label === name).length * perTerm * termBytes;
    // "name":"term", and a comma
    termsBytes += count * (jsonBytes(name) + 6) + perTerm * termBytes;
  }
  // {"query":"","label":"","terms":} and a comma between queries, then the array's brackets.
  const overhead = count * ('{"query":"","label":"","terms":}'.length + 1) + 2;
  return { queries: count, longestQueryChars, bytes: queryBytes + labelBytes + termsBytes + overhead };
}

/**
 * Every combination of terms, in a stable order (dimensions as declared, terms as listed, the last dimension
 * varying fastest). Linear in its output: each combination is built once from an odometer of term indices, not
 * copied from partial combinations once per dimension.
 */
export function synthesizeQueries(plan: CollectionPlan): PlannedQuery[] {
  const dimensions = Object.entries(plan.dimensions);
  const queries: PlannedQuery[] = [];
  for (const digits of odometer(dimensions.map(([, values]) => values.length))) {
    const terms: Record<string, string> = {};
    dimensions.forEach(([name, values], d) => (terms[name] = values[digits[d]!]!));
    queries.push({
      query: queryOf(plan.template, terms),
      label: plan.labelFrom.map((name) => terms[name]!).join('-'),
      terms,
    });
  }
  return queries;
}

/** The template with each field replaced by its term, runs of whitespace collapsed. */
function queryOf(template: string, terms: Record<string, string>): string {
  return template
    .replace(TEMPLATE_FIELD, (_, name: string) => terms[name]!)
    .replace(/\s+/g, ' ')
    .trim();
}

/** Every combination of indices below `sizes`, the last varying fastest (one array, reused: copy to keep). */
function* odometer(sizes: number[]): Generator<readonly number[]> {
  const count = sizes.reduce((product, size) => product * size, 1);
  const digits = new Array<number>(sizes.length).fill(0);
  for (let q = 0; q < count; q++) {
    yield digits;
    for (let d = sizes.length - 1; d >= 0; d--) {
      if (++digits[d]! < sizes[d]!) break;
      digits[d] = 0;
    }
  }
}
