// Augmentation policy per dataset: what the trainer may vary (flips, rotation, zoom, lighting), validated, and the
// drawing of one Augmentation from it, deterministically from a seed. The views themselves are rendered in image/view.
import { InvalidArgumentError } from '../errors';
import type { Augmentation } from '../image/view';
import { type AugmentationPolicy, augmentationPolicySchema } from '../model/published';
import { seededRandom } from '../util/seededRandom';

/** Common practice for photos (fastai's defaults): flips hurt text and help satellite images, so it is per dataset. */
export const DEFAULT_AUGMENTATION: Readonly<AugmentationPolicy> = {
  horizontalFlip: true,
  verticalFlip: false,
  maxRotationDeg: 10,
  maxZoom: 1.1,
  lighting: 0.2,
};

/** Validates a (partial) policy over the defaults; errors name the field. */
export function parseAugmentationPolicy(json: unknown): AugmentationPolicy {
  const merged =
    typeof json === 'object' && json !== null && !Array.isArray(json) ? { ...DEFAULT_AUGMENTATION, ...json } : json;
  const parsed = augmentationPolicySchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(policy)'}: ${issue.message}`);
    throw new InvalidArgumentError(`augmentation policy is invalid: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export function sampleAugmentation(policy: AugmentationPolicy, seed: number): Augmentation {
  const random = seededRandom(seed);
  const between = (low: number, high: number) => low + (high - low) * random();
  return {
    flipHorizontal: policy.horizontalFlip && random() < 0.5,
    flipVertical: policy.verticalFlip && random() < 0.5,
    rotationDeg: between(-policy.maxRotationDeg, policy.maxRotationDeg),
    zoom: between(1, policy.maxZoom),
    cropX: random(),
    cropY: random(),
    brightness: between(1 - policy.lighting, 1 + policy.lighting),
    contrast: between(1 - policy.lighting, 1 + policy.lighting),
  };
}
