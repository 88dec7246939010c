// Registered backbones: ONNX models that users add beside the built-in ResNet50 (a MobileNet or ResNet18 from the
// ONNX model zoo for faster inference, say: the trade-off between accuracy and speed is theirs). Each is stored in
// the project's one backbone form (prepareBackbone: input `input` [N,3,S,S] RGB 0..255 with the model's own
// preprocessing inside, output `features` [N,D]) in the `backbones` container as {name}/model.onnx and
// {name}/backbone.json. Training options name them; the trainer loads them from here.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import type { ContainerClient } from '@azure/storage-blob';
import * as ort from 'onnxruntime-node';

import { InvalidArgumentError, messageOf, NotFoundError } from '../errors';
import { DEFAULT_BACKBONE } from '../model/published';
import { prepareBackbone, type PrepareBackboneOptions } from '../onnx/prepareBackbone';
import { isStatus } from '../storage/tables';
import { cacheDir } from '../util/cacheDir';
import { BACKBONE_INPUT_NAME, BACKBONE_OUTPUTS, type BackboneModel, checkBuiltInInputSize } from './backbone';

const SPEC = 'backbone.json';
const MODEL = 'model.onnx';
/** Like dataset names, plus dots (mobilenet-v2-1.0): 3-63 lower-case letters, digits, single '-' or '.'. */
const NAME_PATTERN = /^[a-z0-9](?:[a-z0-9]|[-.](?![-.])){1,61}[a-z0-9]$/;

export interface BackboneSpec {
  name: string;
  /** S: the side of the square input the model was registered with. */
  inputSize: number;
  /** D: the length of its feature vectors, as measured when it was registered. */
  featureLength: number;
  /** The tensor of the original model that the features come from. */
  featuresOutput: string;
  /** The preprocessing now inside the stored model (scale, then channel order, then mean and std). */
  preprocessing: {
    channelOrder: 'rgb' | 'bgr';
    scale: number;
    mean: [number, number, number];
    std: [number, number, number];
  };
  /** Of the stored (prepared) model. */
  sha256: string;
  sizeBytes: number;
  registeredAt: string;
}

/** Why a backbone name is unusable, or undefined. */
export function checkBackboneName(name: string): string | undefined {
  if (name === DEFAULT_BACKBONE)
    return `"${DEFAULT_BACKBONE}" is the built-in backbone; register yours under another name`;
  return NAME_PATTERN.test(name)
    ? undefined
    : `backbone name "${name.slice(0, 80)}" is invalid: use 3-63 lower-case letters, digits, and single '-' or '.', starting and ending with a letter or digit`;
}

export class BackboneRegistry {
  constructor(private readonly container: ContainerClient) {}

  /**
   * Prepares `model` (see prepareBackbone), checks that ONNX Runtime runs it on a batch of two, and stores it
   * under `name` (replacing a backbone of that name: models trained on the old one keep their own copy inside).
   */
  async register(name: string, model: Uint8Array, options: PrepareBackboneOptions): Promise<BackboneSpec> {
    const problem = checkBackboneName(name);
    if (problem) throw new InvalidArgumentError(problem);
    const prepared = prepareBackbone(model, options);
    const featureLength = await measureFeatureLength(prepared.model, options.inputSize);
    const spec: BackboneSpec = {
      name,
      inputSize: options.inputSize,
      featureLength,
      featuresOutput: options.featuresOutput,
      preprocessing: {
        channelOrder: options.channelOrder ?? 'rgb',
        scale: options.scale ?? 1,
        mean: options.mean ?? [0, 0, 0],
        std: options.std ?? [1, 1, 1],
      },
      sha256: createHash('sha256').update(prepared.model).digest('hex'),
      sizeBytes: prepared.model.byteLength,
      registeredAt: new Date().toISOString(),
    };
    await this.container.createIfNotExists();
    // The model first: a spec is only ever written for a model that is there.
    await this.container
      .getBlockBlobClient(`${name}/${MODEL}`)
      .uploadData(Buffer.from(prepared.model), { blobHTTPHeaders: { blobContentType: 'application/octet-stream' } });
    const json = JSON.stringify(spec, null, 2);
    await this.container
      .getBlockBlobClient(`${name}/${SPEC}`)
      .upload(json, Buffer.byteLength(json), { blobHTTPHeaders: { blobContentType: 'application/json' } });
    return spec;
  }

  async get(name: string): Promise<BackboneSpec | undefined> {
    try {
      return JSON.parse(
        (await this.container.getBlockBlobClient(`${name}/${SPEC}`).downloadToBuffer()).toString('utf8'),
      ) as BackboneSpec;
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** The registered backbones, by name. */
  async list(): Promise<BackboneSpec[]> {
    const names: string[] = [];
    try {
      for await (const item of this.container.listBlobsByHierarchy('/'))
        if (item.kind === 'prefix') names.push(item.name.replace(/\/$/, ''));
    } catch (error) {
      if (isStatus(error, 404)) return []; // nothing registered yet: no container
      throw error;
    }
    const specs = await Promise.all(names.sort().map((name) => this.get(name)));
    return specs.filter((spec): spec is BackboneSpec => spec !== undefined);
  }

  /**
   * Throws a 400-type error when `name` is neither built in nor registered (naming what is), or when `inputSize` is
   * not the size a registered backbone takes.
   */
  async check(name: string, inputSize?: number): Promise<void> {
    if (name === DEFAULT_BACKBONE) {
      if (inputSize !== undefined) checkBuiltInInputSize(inputSize);
      return;
    }
    const spec = await this.get(name);
    if (!spec) {
      const known = [DEFAULT_BACKBONE, ...(await this.list()).map((registered) => registered.name)];
      throw new InvalidArgumentError(
        `backbone "${name}" is not registered; known: ${known.join(', ')} (register one with icf backbone register)`,
      );
    }
    if (inputSize !== undefined && inputSize !== spec.inputSize) {
      throw new InvalidArgumentError(
        `backbone "${name}" takes ${spec.inputSize}x${spec.inputSize} images only (its registered size); inputSize ${inputSize} applies to ${DEFAULT_BACKBONE}`,
      );
    }
  }

  /** The registered backbone as a local file (downloaded once per content into the backbone cache). */
  async ensureModel(
    name: string,
    options: { cacheDir?: string; log?: (message: string) => void } = {},
  ): Promise<BackboneModel> {
    const spec = await this.get(name);
    if (!spec) throw new NotFoundError(`backbone "${name}" is not registered`);
    const dir = path.resolve(options.cacheDir ?? cacheDir('backbones'), 'registered');
    const modelPath = path.join(dir, `${name}-${spec.sha256.slice(0, 16)}.onnx`);
    const model: BackboneModel = {
      name,
      modelPath,
      inputName: BACKBONE_INPUT_NAME,
      inputSize: spec.inputSize,
      outputNames: { features: BACKBONE_OUTPUTS.features },
      featureLength: spec.featureLength,
      normalization: describePreprocessing(spec.preprocessing),
      converted: false,
    };
    if (existsSync(modelPath)) return model;
    options.log?.(`downloading backbone "${name}" (${(spec.sizeBytes / 2 ** 20).toFixed(1)} MiB)`);
    const bytes = await this.container.getBlockBlobClient(`${name}/${MODEL}`).downloadToBuffer();
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== spec.sha256)
      throw new Error(
        `backbone "${name}": the stored model's SHA-256 ${digest.slice(0, 16)}… does not match its spec's ${spec.sha256.slice(0, 16)}… (re-register it)`,
      );
    await fs.mkdir(dir, { recursive: true });
    const tmp = `${modelPath}.${process.pid}.tmp`;
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, modelPath); // atomic: a concurrent loader sees no file or a complete one
    return model;
  }
}

/** Runs the prepared model on a batch of two grey images: it must give [2, D] finite features. */
async function measureFeatureLength(model: Uint8Array, inputSize: number): Promise<number> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  } catch (error) {
    throw new InvalidArgumentError(`ONNX Runtime cannot load the prepared model: ${messageOf(error).split('\n')[0]}`);
  }
  try {
    const input = new ort.Tensor('float32', new Float32Array(2 * 3 * inputSize * inputSize).fill(128), [
      2,
      3,
      inputSize,
      inputSize,
    ]);
    let features: ort.Tensor | undefined;
    try {
      features = (await session.run({ [BACKBONE_INPUT_NAME]: input }))[BACKBONE_OUTPUTS.features];
    } catch (error) {
      throw new InvalidArgumentError(
        `the model does not run on a batch of 2 images of ${inputSize}x${inputSize} (export it with a dynamic batch dimension): ${messageOf(error).split('\n')[0]}`,
      );
    }
    if (!features || features.dims.length !== 2 || features.dims[0] !== 2)
      throw new InvalidArgumentError(
        `the features have shape [${features?.dims.join(', ') ?? ''}], expected [2, D] for a batch of 2`,
      );
    const data = features.data as Float32Array;
    if (!data.every(Number.isFinite))
      throw new InvalidArgumentError('the features of a plain grey image are not all finite numbers');
    return features.dims[1]!;
  } finally {
    await session.release();
  }
}

function describePreprocessing(p: BackboneSpec['preprocessing']): string {
  return `registered backbone: times ${p.scale}, ${p.channelOrder === 'bgr' ? 'RGB to BGR, ' : ''}minus mean [${p.mean.join(', ')}], divided by std [${p.std.join(', ')}]`;
}
