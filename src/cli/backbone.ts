// `icf backbone register NAME MODEL.onnx ...` and `icf backbone list`: backbones besides the built-in ResNet50,
// stored in the app's storage account where the trainer finds them (train option "backbone": NAME).
import { readFile } from 'node:fs/promises';

import { loadCliSettings } from '../config';
import { InvalidArgumentError, messageOf } from '../errors';
import { createStorageClients } from '../storage/clients';
import { BACKBONES_CONTAINER } from '../storage/names';
import { BackboneRegistry, type BackboneSpec } from '../train/backbones';
import { invalidOption, parseArgs, UsageError } from './options';

export const BACKBONE_USAGE = `usage: icf backbone register NAME MODEL.onnx --features-output TENSOR [options]
       icf backbone list [--connection-string CS]
  register: store an ONNX backbone for training (icf train DATASET --backbone NAME)
  list: the built-in and registered backbones
options for register (the model's own preprocessing; the app feeds RGB 0..255, straight-resized to SxS):
  --features-output TENSOR          the tensor to take features from, e.g. the pooled layer before the classifier
  --input-size S                    the side of the square input (default 224)
  --channels rgb|bgr                channel order the model expects (default rgb)
  --scale X                         multiply first, e.g. 0.00392156862745098 (1/255) for inputs in 0..1 (default 1)
  --mean A,B,C  --std A,B,C         then subtract and divide per channel, in the model's order (default 0,0,0 and 1,1,1)
  --connection-string CS            storage account (default: $AzureWebJobsStorage, else the local Azurite)`;

export async function backboneCommand(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = args;
  // An option before the subcommand is named as an option, not taken for one.
  const { positional, values } = parseArgs(sub?.startsWith('-') ? args : rest, {
    values: ['features-output', 'input-size', 'channels', 'scale', 'mean', 'std', 'connection-string'],
    command: 'backbone',
  });
  const connection = values['connection-string'] ?? loadCliSettings().storage ?? 'UseDevelopmentStorage=true';
  const registry = new BackboneRegistry(createStorageClients(connection).blobs.getContainerClient(BACKBONES_CONTAINER));
  if (sub === 'list') {
    if (positional.length > 0) throw new UsageError('backbone', 'backbone list takes no arguments');
    out.write('resnet50-keras (built in): 224x224 input, 2048 features\n');
    for (const spec of await registry.list()) out.write(`${describe(spec)}\n`);
    return 0;
  }
  if (sub !== 'register') throw new UsageError('backbone', 'backbone needs "register" or "list"');
  const [name, file] = positional;
  const featuresOutput = values['features-output'];
  if (!name || !file || positional.length > 2 || !featuresOutput)
    throw new UsageError('backbone', 'backbone register needs NAME, MODEL.onnx and --features-output TENSOR');
  const channels = values['channels'] ?? 'rgb';
  if (channels !== 'rgb' && channels !== 'bgr') throw invalidOption('backbone', 'channels', 'rgb or bgr', channels);
  let model: Buffer;
  try {
    model = await readFile(file);
  } catch (error) {
    throw new InvalidArgumentError(`cannot read ${file}: ${messageOf(error)}`);
  }
  const spec = await registry.register(name, new Uint8Array(model), {
    featuresOutput,
    inputSize: number('input-size', values['input-size'] ?? '224'),
    channelOrder: channels,
    scale: number('scale', values['scale'] ?? '1'),
    mean: triple('mean', values['mean'] ?? '0,0,0'),
    std: triple('std', values['std'] ?? '1,1,1'),
  });
  out.write(`registered ${describe(spec)}\n`);
  return 0;
}

function describe(spec: BackboneSpec): string {
  return `${spec.name}: ${spec.inputSize}x${spec.inputSize} input, ${spec.featureLength} features from "${spec.featuresOutput}", ${(spec.sizeBytes / 2 ** 20).toFixed(1)} MiB, registered ${spec.registeredAt}`;
}

function number(option: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw invalidOption('backbone', option, 'a number', text);
  return value;
}

function triple(option: string, text: string): [number, number, number] {
  const parts = text.split(',');
  // The whole value is named, not the one part of it that is no number.
  if (parts.length !== 3 || parts.some((part) => part.trim() === '' || !Number.isFinite(Number(part))))
    throw invalidOption('backbone', option, 'three numbers separated by commas (one per channel)', text);
  return parts.map(Number) as [number, number, number];
}
