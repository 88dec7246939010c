// `icf imagenet FILE...`: the backbone's top-5 ImageNet classes for each image (a quick check that the
// backbone, its preprocessing and the image decoding agree).
import { readFile } from 'node:fs/promises';

import * as ort from 'onnxruntime-node';

import { messageOf } from '../errors';
import { SQUASH } from '../image/preprocessing';
import { renderView } from '../image/view';
import { BACKBONE_OUTPUTS, loadBackbone } from '../train/backbone';
import { IMAGENET_LABELS } from '../train/imagenetLabels';
import { parseArgs, UsageError } from './options';

export const IMAGENET_USAGE = `usage: icf imagenet FILE...
  print the built-in backbone's top-5 ImageNet classes for each image (a check of the backbone and decoding)`;

export async function imagenetCommand(
  args: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const { positional } = parseArgs(args, { values: [], command: 'imagenet' });
  if (positional.length === 0) throw new UsageError('imagenet', 'imagenet needs at least one FILE');
  return printImagenetTop5(positional, out, err);
}

export async function printImagenetTop5(
  files: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const backbone = await loadBackbone({ log: (message) => err.write(`${message}\n`) });
  let failures = 0;
  try {
    for (const file of files) {
      try {
        // Squashed, as the backbone's reference outputs (../shared/fixtures/backbone) were made.
        const view = await renderView(await readFile(file), { size: backbone.inputSize, resize: SQUASH });
        const input = new ort.Tensor('float32', view.data, [1, 3, view.size, view.size]);
        // The built-in backbone keeps its ImageNet classifier as a second output.
        const outputs = await backbone.session.run({ [backbone.inputName]: input }, [BACKBONE_OUTPUTS.probabilities]);
        const probabilities = outputs[BACKBONE_OUTPUTS.probabilities]!.data as Float32Array;
        const top = [...probabilities.keys()].sort((a, b) => probabilities[b]! - probabilities[a]!).slice(0, 5);
        out.write(`${file}\n`);
        for (const index of top)
          out.write(`  ${probabilities[index]!.toFixed(4)}  ${IMAGENET_LABELS[index]} (${index})\n`);
      } catch (error) {
        failures++;
        err.write(`icf: ${file}: ${messageOf(error)}\n`);
      }
    }
  } finally {
    await backbone.session.release();
  }
  return failures === 0 ? 0 : 1;
}
