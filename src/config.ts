// The one place where app settings are read and validated. Everything else receives typed values.
import { z } from 'zod';
import { ConfigurationError } from './errors';

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const settingsSchema = z.object({
  AzureWebJobsStorage: z.string({ error: 'is required (a storage connection string, e.g. UseDevelopmentStorage=true)' }),
  INGEST_MAX_FILE_BYTES: integer(1, 1024 * 1024 * 1024).default(50 * 1024 * 1024),
  INGEST_MAX_PIXELS: integer(1, 1_000_000_000).default(64_000_000),
  INGEST_MIN_SIDE_PX: integer(1, 10_000).default(64),
  INGEST_MAX_ASPECT_RATIO: z.coerce.number().min(1).max(1000).default(8),
  DEDUP_NEAR_DUPLICATE_MAX_BITS: integer(0, 128).default(24),
  SPLIT_GROUP_MAX_BITS: integer(0, 128).default(48),
  DEDUP_MAX_RELATIVE_DISTANCE: z.coerce.number().min(0).max(1).default(0.4),
  SPLIT_TEST_FRACTION: z.coerce.number().gt(0).max(0.5).default(0.2),
});

export type RawSettings = Record<string, string | undefined>;

export interface IngestSettings {
  maxFileBytes: number;
  maxPixels: number;
  minSidePx: number;
  maxAspectRatio: number;
}

export interface DedupSettings {
  /** At or below this Hamming distance (of 256 bits) an image is a near duplicate and is not added. */
  nearDuplicateMaxBits: number;
  /** At or below this distance an image joins its neighbour's side of the split (a looser threshold). */
  splitGroupMaxBits: number;
  /**
   * Both decisions also need distance / (set bits of both hashes) at or below this. dHash bits mark
   * brightness steps, so photos of different objects on a plain background have nearly empty hashes
   * that lie close in absolute terms; measured against how much each hash holds, they are far apart.
   */
  maxRelativeDistance: number;
  /** Share of each label's images that go to the test split. */
  testFraction: number;
}

export interface AppSettings {
  storageConnectionString: string;
  ingest: IngestSettings;
  dedup: DedupSettings;
}

/** Reads and validates the app settings; a bad value throws a ConfigurationError that names the setting. */
export function loadSettings(env: RawSettings = process.env): AppSettings {
  const parsed = settingsSchema.safeParse(withoutEmptyValues(env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigurationError(`Invalid app settings: ${problems.join('; ')}`);
  }
  const s = parsed.data;
  if (s.SPLIT_GROUP_MAX_BITS < s.DEDUP_NEAR_DUPLICATE_MAX_BITS) {
    throw new ConfigurationError(
      `Invalid app settings: SPLIT_GROUP_MAX_BITS (${s.SPLIT_GROUP_MAX_BITS}) must be at least DEDUP_NEAR_DUPLICATE_MAX_BITS (${s.DEDUP_NEAR_DUPLICATE_MAX_BITS})`,
    );
  }
  return {
    storageConnectionString: s.AzureWebJobsStorage,
    ingest: {
      maxFileBytes: s.INGEST_MAX_FILE_BYTES,
      maxPixels: s.INGEST_MAX_PIXELS,
      minSidePx: s.INGEST_MIN_SIDE_PX,
      maxAspectRatio: s.INGEST_MAX_ASPECT_RATIO,
    },
    dedup: {
      nearDuplicateMaxBits: s.DEDUP_NEAR_DUPLICATE_MAX_BITS,
      splitGroupMaxBits: s.SPLIT_GROUP_MAX_BITS,
      maxRelativeDistance: s.DEDUP_MAX_RELATIVE_DISTANCE,
      testFraction: s.SPLIT_TEST_FRACTION,
    },
  };
}

// An empty app setting means "not set" (the portal and local.settings.json both produce them).
function withoutEmptyValues(env: RawSettings): RawSettings {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
}
