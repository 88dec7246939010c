// Brings a user's ONNX backbone into the one form the rest of the project expects of every backbone:
//   input  `input`    float32 [N,3,S,S], RGB, values 0..255, NCHW (what renderView produces);
//   output `features` float32 [N,D].
// The model's own preprocessing (scale, channel order, mean/std) is prepended as ONNX nodes, the tensor the user
// names becomes `features` (flattened), and whatever `features` does not need (the classifier) is dropped.
import { onnx } from 'onnx-proto';

import { InvalidArgumentError, messageOf, ProgrammingError } from '../errors';
import { pruneUnreachable } from './prune';
import { FLOAT, node, tensor, valueInfo } from './tensorProto';

/** Name of the prepared model's only input: float32 [N,3,S,S], RGB 0..255, NCHW. */
export const PREPARED_INPUT_NAME = 'input';
/** Name of the prepared model's only output: float32 [N,D]. */
export const PREPARED_OUTPUT_NAME = 'features';
export const MIN_BACKBONE_INPUT_SIZE = 16;
export const MAX_BACKBONE_INPUT_SIZE = 1024;
/** The oldest default-domain opset accepted: Mul/Sub/Div broadcast without the pre-7 `broadcast` attribute. */
export const MIN_BACKBONE_OPSET = 7;

export interface PrepareBackboneOptions {
  /** The tensor to take features from: a graph output or any intermediate value (e.g. the global pool's output). */
  featuresOutput: string;
  /** S: the side of the square input, 16..1024. Must match the model's input when that has a fixed height/width. */
  inputSize: number;
  /** The channel order the model expects. Default 'rgb'; 'bgr' reorders the channels (Gather on axis 1). */
  channelOrder?: 'rgb' | 'bgr';
  /** Multiplies the 0..255 values first (e.g. 1/255). Default 1. */
  scale?: number;
  /** Subtracted after scaling, per channel in the model's own channel order. Default [0,0,0]. */
  mean?: [number, number, number];
  /** Divides after subtracting the mean, per channel in the model's own channel order. Default [1,1,1]. */
  std?: [number, number, number];
}

/** A dimension as declared in the model: a size, a symbolic name, or null when the model leaves it unknown. */
export type DeclaredDim = number | string | null;

export interface PreparedBackbone {
  /** The normalised ONNX model: input `input` float32 [N,3,S,S] RGB 0..255, output `features` float32 [N,D]. */
  model: Uint8Array;
  /** Name of the original model's graph input (it is now an internal tensor, renamed when it was `input`). */
  sourceInput: string;
  /** The original input's declared shape, e.g. [1,3,224,224] or ['batch',3,224,224]. */
  sourceInputShape: DeclaredDim[];
  /**
   * Shape of `features`: ['N', D] where D is the feature length when the model declares the named tensor's shape
   * (graph output or value_info) with fixed non-batch dimensions; otherwise 'D' (unknown until the model is run;
   * intermediate tensors often carry no shape, so probe it with one inference when needed).
   */
  featureShape: ['N', number | 'D'];
  /** The preprocessing nodes prepended, in order (a subset of Mul, Gather, Sub, Div); empty for the identity case. */
  preprocessing: string[];
}

/**
 * Normalises a backbone (see the file comment). The new model prepends, as needed: Mul by `scale`, Gather [2,1,0]
 * on axis 1 for 'bgr', Sub `mean`, Div `std` (identity steps are skipped), and ends with Flatten(axis=1) of
 * `featuresOutput` into `features`; nodes and initializers `features` does not need are dropped. The original
 * opset imports, IR version and metadata are kept. Throws InvalidArgumentError when the bytes are not an ONNX
 * model, the model does not have exactly one NCHW 3-channel float input (initializers listed as inputs, as in
 * IR < 4, do not count), its fixed height/width differ from `inputSize`, `featuresOutput` is not a value computed
 * from the input, or an option is out of range.
 *
 * The batch dimension becomes the symbolic 'N'. A model whose graph hard-codes its batch size (e.g. a Reshape to
 * [1,-1] before the named tensor) still only runs with that batch size.
 */
export function prepareBackbone(model: Uint8Array, options: PrepareBackboneOptions): PreparedBackbone {
  const settings = checkOptions(options);
  const decoded = decodeModel(model);
  const graph = decoded.graph!;
  checkOpset(decoded);

  // ---- the one real input ----------------------------------------------------------------------------------------
  const initializerNames = new Set((graph.initializer ?? []).map((tensor) => tensor.name ?? ''));
  for (const sparse of graph.sparseInitializer ?? []) initializerNames.add(sparse.values?.name ?? '');
  const realInputs = (graph.input ?? []).filter((input) => !initializerNames.has(input.name ?? ''));
  if (realInputs.length !== 1) {
    throw invalid(
      `expected exactly one graph input (not counting initializers), found ${realInputs.length}` +
        (realInputs.length
          ? `: ${realInputs.map((input) => `'${input.name}' ${formatShape(declaredShape(input))}`).join(', ')}`
          : ''),
    );
  }
  const sourceInfo = realInputs[0]!;
  const sourceInput = sourceInfo.name ?? '';
  const sourceInputShape = checkInput(sourceInfo, settings.inputSize);

  // ---- the features tensor ---------------------------------------------------------------------------------------
  const nodeOutputs = new Set((graph.node ?? []).flatMap((node) => node.output ?? []).filter((name) => name !== ''));
  const featuresName = options.featuresOutput;
  if (featuresName === sourceInput) {
    throw invalid(
      `expected options.featuresOutput to name a tensor computed from the input, found the graph input '${featuresName}' itself`,
    );
  }
  if (!nodeOutputs.has(featuresName)) {
    const what = initializerNames.has(featuresName)
      ? 'an initializer (a constant), not a tensor computed from the input'
      : 'not a tensor of the graph';
    throw invalid(
      `options.featuresOutput '${featuresName}' is ${what}; candidates: ${formatCandidates(graph, featuresName)}`,
    );
  }
  const featureLength = checkFeaturesInfo(graph, featuresName);

  // ---- names: `input` and `features` must be free for the new input and output ------------------------------------
  const used = allNames(graph);
  const unique = (base: string): string => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  let source = featuresName;
  let inputName = sourceInput;
  const rename = (from: string, to: string): void => {
    renameTensor(graph, from, to);
    if (source === from) source = to;
    if (inputName === from) inputName = to;
  };
  if (used.has(PREPARED_OUTPUT_NAME)) rename(PREPARED_OUTPUT_NAME, unique(`${PREPARED_OUTPUT_NAME}_source`));

  const steps = preprocessingSteps(settings);
  // `target` is the tensor the original nodes read: the last preprocessing output, or `input` itself.
  let target: string;
  if (inputName === PREPARED_INPUT_NAME) {
    target = steps.length ? unique(`${PREPARED_INPUT_NAME}_original`) : PREPARED_INPUT_NAME;
    if (target !== PREPARED_INPUT_NAME) rename(PREPARED_INPUT_NAME, target);
  } else {
    if (used.has(PREPARED_INPUT_NAME)) rename(PREPARED_INPUT_NAME, unique(`${PREPARED_INPUT_NAME}_1`));
    target = steps.length ? inputName : PREPARED_INPUT_NAME;
    if (target !== inputName) rename(inputName, target);
  }
  used.add(PREPARED_INPUT_NAME);
  used.add(PREPARED_OUTPUT_NAME);

  // ---- preprocessing nodes, Flatten, output, pruning -----------------------------------------------------------------
  const newInitializers: onnx.ITensorProto[] = [];
  const preprocessing: onnx.INodeProto[] = [];
  let current = PREPARED_INPUT_NAME;
  steps.forEach((step, i) => {
    const constant = unique(`preprocess_${step.label}_value`);
    newInitializers.push(step.tensor(constant));
    const output = i === steps.length - 1 ? target : unique(`preprocess_${step.label}`);
    const attributes: Record<string, number> = step.opType === 'Gather' ? { axis: 1 } : {};
    const name = unique(`preprocess_${step.label}_node`);
    preprocessing.push(node(step.opType, name, [current, constant], [output], attributes));
    current = output;
  });
  const flatten = node('Flatten', unique('features_flatten'), [source], [PREPARED_OUTPUT_NAME], { axis: 1 });
  graph.initializer = [...(graph.initializer ?? []), ...newInitializers];
  graph.node = [...preprocessing, ...(graph.node ?? []), flatten];
  graph.output = [valueInfo(PREPARED_OUTPUT_NAME, ['N', featureLength ?? 'D'])];
  pruneUnreachable(graph);
  if (!referencesName(graph.node ?? [], PREPARED_INPUT_NAME)) {
    throw invalid(`options.featuresOutput '${featuresName}' does not depend on the graph input '${sourceInput}'`);
  }

  // ---- inputs: the new one, then initializers still listed as inputs (IR < 4 style) ---------------------------------
  const kept = new Set((graph.initializer ?? []).map((tensor) => tensor.name ?? ''));
  const initializerInputs = (graph.input ?? []).filter((input) => input !== sourceInfo && kept.has(input.name ?? ''));
  const legacy = Number(decoded.irVersion ?? 0) < 4; // IR < 4: every initializer must also be a graph input
  graph.input = [
    valueInfo(PREPARED_INPUT_NAME, ['N', 3, settings.inputSize, settings.inputSize]),
    ...initializerInputs,
    ...(legacy
      ? newInitializers
          .filter((t) => kept.has(t.name!))
          .map((t) => valueInfo(t.name!, t.dims!.map(Number), t.dataType!))
      : []),
  ];
  cleanValueInfo(graph, typeof sourceInputShape[0] === 'number' ? sourceInputShape[0] : null);

  return {
    model: onnx.ModelProto.encode(decoded).finish(),
    sourceInput,
    sourceInputShape,
    featureShape: ['N', featureLength ?? 'D'],
    preprocessing: preprocessing.filter((node) => (graph.node ?? []).includes(node)).map((node) => node.opType!),
  };
}

// ---- options -------------------------------------------------------------------------------------------------------

interface Settings {
  inputSize: number;
  channelOrder: 'rgb' | 'bgr';
  scale: number;
  mean: readonly number[];
  std: readonly number[];
}

function checkOptions(options: PrepareBackboneOptions): Settings {
  // The types say so, and the app's one caller (BackboneRegistry.register) builds the object: none is a bug.
  if (typeof options !== 'object' || options === null)
    throw broken(`expected an options object, found ${describe(options)}`);
  const { featuresOutput, inputSize, channelOrder = 'rgb', scale = 1, mean = [0, 0, 0], std = [1, 1, 1] } = options;
  if (typeof featuresOutput !== 'string' || featuresOutput === '') {
    throw invalid(`expected options.featuresOutput to be a non-empty tensor name, found ${describe(featuresOutput)}`);
  }
  if (
    typeof inputSize !== 'number' ||
    !Number.isInteger(inputSize) ||
    inputSize < MIN_BACKBONE_INPUT_SIZE ||
    inputSize > MAX_BACKBONE_INPUT_SIZE
  ) {
    throw invalid(
      `expected options.inputSize to be an integer from ${MIN_BACKBONE_INPUT_SIZE} to ${MAX_BACKBONE_INPUT_SIZE}, found ${describe(inputSize)}`,
    );
  }
  if (channelOrder !== 'rgb' && channelOrder !== 'bgr')
    throw invalid(`expected options.channelOrder to be 'rgb' or 'bgr', found ${describe(channelOrder)}`);
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale === 0) {
    throw invalid(`expected options.scale to be a finite non-zero number, found ${describe(scale)}`);
  }
  const triple = (name: string, value: unknown, nonZero: boolean): readonly number[] => {
    const ok =
      Array.isArray(value) &&
      value.length === 3 &&
      value.every((v) => typeof v === 'number' && Number.isFinite(v) && (!nonZero || v !== 0));
    if (!ok) {
      throw invalid(
        `expected options.${name} to be 3 finite${nonZero ? ' non-zero' : ''} numbers (one per channel, in the model's channel order, ` +
          `applied after scale), found ${describe(value)}`,
      );
    }
    return value as number[];
  };
  return { inputSize, channelOrder, scale, mean: triple('mean', mean, false), std: triple('std', std, true) };
}

interface Step {
  opType: 'Mul' | 'Gather' | 'Sub' | 'Div';
  label: string;
  tensor(name: string): onnx.ITensorProto;
}

function preprocessingSteps(settings: Settings): Step[] {
  const perChannel = (values: readonly number[]) => (name: string) =>
    tensor(name, [1, 3, 1, 1], Float32Array.from(values));
  const steps: Step[] = [];
  if (settings.scale !== 1) {
    steps.push({ opType: 'Mul', label: 'scale', tensor: (name) => tensor(name, [], Float32Array.of(settings.scale)) });
  }
  if (settings.channelOrder === 'bgr') {
    steps.push({
      opType: 'Gather',
      label: 'bgr',
      tensor: (name) => tensor(name, [3], BigInt64Array.of(2n, 1n, 0n)),
    });
  }
  if (settings.mean.some((v) => v !== 0))
    steps.push({ opType: 'Sub', label: 'mean', tensor: perChannel(settings.mean) });
  if (settings.std.some((v) => v !== 1)) steps.push({ opType: 'Div', label: 'std', tensor: perChannel(settings.std) });
  return steps;
}

// ---- model checks --------------------------------------------------------------------------------------------------

function decodeModel(bytes: Uint8Array): onnx.ModelProto {
  if (!(bytes instanceof Uint8Array))
    throw broken(`expected the model as a Uint8Array (ONNX ModelProto bytes), found ${describe(bytes)}`);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw invalid(
      `expected an ONNX model (ModelProto bytes, ${bytes.length} given), but decoding failed: ${messageOf(error)}`,
    );
  }
  if (!model.graph)
    throw invalid(
      `expected an ONNX model with a graph, found ${bytes.length} bytes that decode to no graph (not an .onnx file?)`,
    );
  if (!(model.graph.node ?? []).length) throw invalid(`expected an ONNX model with nodes, found a graph with none`);
  return model;
}

function checkOpset(model: onnx.IModelProto): void {
  const imports = model.opsetImport ?? [];
  const main = imports.find((entry) => !entry.domain || entry.domain === 'ai.onnx');
  const version = main ? Number(main.version ?? 0) : null;
  if (version === null || version < MIN_BACKBONE_OPSET) {
    throw invalid(
      `expected a model importing the default ONNX opset at version ${MIN_BACKBONE_OPSET} or later, found ` +
        (version === null
          ? `none (imports: ${imports.map((e) => `${e.domain || 'ai.onnx'}:${Number(e.version ?? 0)}`).join(', ') || 'none'})`
          : `version ${version}`),
    );
  }
}

/** Checks the source input (float, rank 4, 3 channels, height/width compatible with inputSize); returns its shape. */
function checkInput(info: onnx.IValueInfoProto, inputSize: number): DeclaredDim[] {
  const name = info.name ?? '';
  const tensorType = info.type?.tensorType;
  if (info.type && !tensorType) {
    const kind = Object.keys(info.type).find(
      (key) => key.endsWith('Type') && (info.type as Record<string, unknown>)[key] != null,
    );
    throw invalid(
      `expected the graph input '${name}' to be a tensor, found ${kind ? `a ${kind.replace(/Type$/, '')}` : 'a non-tensor value'}`,
    );
  }
  const elemType = tensorType?.elemType ?? 0;
  if (elemType !== 0 && elemType !== Number(FLOAT)) {
    throw invalid(
      `expected the graph input '${name}' to be float32, found ${onnx.TensorProto.DataType[elemType] ?? `element type ${elemType}`}`,
    );
  }
  const shape = declaredShape(info);
  if (!shape) return [null, null, null, null]; // no declared shape: nothing to check, the runtime will tell.
  const shown = formatShape(shape);
  if (shape.length !== 4)
    throw invalid(`expected the graph input '${name}' to be 4-D NCHW [N,3,H,W], found ${shown} (rank ${shape.length})`);
  const channels = shape[1];
  if (typeof channels === 'number' && channels !== 3) {
    const hint = shape[3] === 3 ? ', which looks like NHWC (channels last); only NCHW models are supported' : '';
    throw invalid(
      `expected the graph input '${name}' to have 3 channels in dimension 1 (NCHW [N,3,H,W]), found ${shown}${hint}`,
    );
  }
  const [height, width] = [shape[2], shape[3]];
  if (typeof height === 'number' && typeof width === 'number' && height !== width) {
    throw invalid(
      `expected the graph input '${name}' to be square (options.inputSize ${inputSize}x${inputSize}), found a fixed ${height}x${width} input ${shown}`,
    );
  }
  for (const fixed of [height, width]) {
    if (typeof fixed === 'number' && fixed !== inputSize) {
      throw invalid(
        `options.inputSize is ${inputSize}, but the graph input '${name}' has a fixed size of ${fixed}x${fixed} (${shown}); pass inputSize: ${fixed}`,
      );
    }
  }
  return shape;
}

/** Type and rank checks on the named tensor where the model declares them; returns D when it is known. */
function checkFeaturesInfo(graph: onnx.IGraphProto, name: string): number | null {
  const info = [...(graph.output ?? []), ...(graph.valueInfo ?? [])].find((entry) => entry.name === name);
  if (!info) return null;
  const elemType = info.type?.tensorType?.elemType ?? 0;
  if (elemType !== 0 && elemType !== Number(FLOAT)) {
    throw invalid(
      `expected options.featuresOutput '${name}' to be float32, found ${onnx.TensorProto.DataType[elemType] ?? `element type ${elemType}`}`,
    );
  }
  const shape = declaredShape(info);
  if (!shape) return null;
  if (shape.length < 2)
    throw invalid(
      `expected options.featuresOutput '${name}' to have a batch dimension and features ([N,D] or [N,C,1,1]), found ${formatShape(shape)}`,
    );
  const rest = shape.slice(1);
  return rest.every((d): d is number => typeof d === 'number') ? rest.reduce((a, b) => a * b, 1) : null;
}

// ---- graph helpers -------------------------------------------------------------------------------------------------

function declaredShape(info: onnx.IValueInfoProto): DeclaredDim[] | null {
  const shape = info.type?.tensorType?.shape;
  if (!shape) return null;
  return (shape.dim ?? []).map((dim) => {
    if (dim.dimParam) return dim.dimParam;
    const value = Number(dim.dimValue ?? 0);
    return value > 0 ? value : null;
  });
}

function formatShape(shape: readonly DeclaredDim[] | null): string {
  return shape ? `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]` : '[shape not declared]';
}

/** Up to 10 names worth suggesting: those containing the asked name, the graph outputs, the last nodes' outputs. */
function formatCandidates(graph: onnx.IGraphProto, asked: string): string {
  const outputs = (graph.node ?? []).flatMap((node) => node.output ?? []).filter((name) => name !== '');
  const lower = asked.toLowerCase();
  const ordered = [
    ...outputs.filter((name) => name.toLowerCase().includes(lower)),
    ...(graph.output ?? []).map((output) => output.name ?? ''),
    ...[...outputs].reverse(),
  ];
  const unique = [...new Set(ordered.filter((name) => name !== ''))];
  const shown = unique
    .slice(0, 10)
    .map((name) => `'${name}'`)
    .join(', ');
  return unique.length > 10 ? `${shown} (and ${unique.length - 10} more)` : shown || 'none';
}

/** Every tensor and node name in the graph (subgraphs included), so new names never clash. */
function allNames(graph: onnx.IGraphProto, names = new Set<string>()): Set<string> {
  for (const node of graph.node ?? []) {
    for (const name of [...(node.input ?? []), ...(node.output ?? []), node.name ?? '']) if (name) names.add(name);
    for (const attribute of node.attribute ?? []) for (const sub of subgraphs(attribute)) allNames(sub, names);
  }
  for (const list of [graph.input, graph.output, graph.valueInfo])
    for (const info of list ?? []) if (info.name) names.add(info.name);
  for (const tensor of graph.initializer ?? []) if (tensor.name) names.add(tensor.name);
  for (const sparse of graph.sparseInitializer ?? []) if (sparse.values?.name) names.add(sparse.values.name);
  return names;
}

function subgraphs(attribute: onnx.IAttributeProto): onnx.IGraphProto[] {
  return [...(attribute.g ? [attribute.g] : []), ...(attribute.graphs ?? [])];
}

/** Renames a tensor everywhere, including outer-scope references from subgraphs that do not declare that name. */
function renameTensor(graph: onnx.IGraphProto, from: string, to: string): void {
  const swap = (name: string): string => (name === from ? to : name);
  for (const node of graph.node ?? []) {
    node.input = (node.input ?? []).map(swap);
    node.output = (node.output ?? []).map(swap);
    for (const attribute of node.attribute ?? []) {
      for (const sub of subgraphs(attribute)) if (!declares(sub, from)) renameTensor(sub, from, to);
    }
  }
  for (const list of [graph.input, graph.output, graph.valueInfo])
    for (const info of list ?? []) if (info.name === from) info.name = to;
  for (const tensor of graph.initializer ?? []) if (tensor.name === from) tensor.name = to;
  for (const sparse of graph.sparseInitializer ?? []) if (sparse.values?.name === from) sparse.values.name = to;
}

function declares(graph: onnx.IGraphProto, name: string): boolean {
  return (
    (graph.input ?? []).some((input) => input.name === name) ||
    (graph.initializer ?? []).some((tensor) => tensor.name === name) ||
    (graph.node ?? []).some((node) => (node.output ?? []).includes(name))
  );
}

function referencesName(nodes: readonly onnx.INodeProto[], name: string): boolean {
  return nodes.some(
    (node) =>
      (node.input ?? []).includes(name) ||
      (node.attribute ?? []).some((attribute) =>
        subgraphs(attribute).some((sub) => !declares(sub, name) && referencesName(sub.node ?? [], name)),
      ),
  );
}

/**
 * Keeps value_info only for tensors still in the graph, and forgets a fixed batch size the original input had
 * (dimension 0 equal to it becomes unknown), so a batch of another size meets no contradicting declaration.
 */
function cleanValueInfo(graph: onnx.IGraphProto, fixedBatch: number | null): void {
  const present = new Set((graph.node ?? []).flatMap((node) => [...(node.input ?? []), ...(node.output ?? [])]));
  graph.valueInfo = (graph.valueInfo ?? []).filter(
    (info) => present.has(info.name ?? '') && info.name !== PREPARED_INPUT_NAME && info.name !== PREPARED_OUTPUT_NAME,
  );
  if (fixedBatch === null) return;
  for (const info of graph.valueInfo) {
    const dims = info.type?.tensorType?.shape?.dim;
    const first = dims?.[0];
    if (dims && first && !first.dimParam && Number(first.dimValue ?? 0) === fixedBatch)
      dims[0] = onnx.TensorShapeProto.Dimension.create({});
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map((v) => describe(v)).join(',')}]`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'object'}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'symbol') return value.toString();
  return 'a function';
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(`prepareBackbone: ${message}.`);
}

/** A call the types rule out (no options object, no bytes): the caller's code is wrong, not the model. */
function broken(message: string): ProgrammingError {
  return new ProgrammingError(`prepareBackbone: ${message}.`);
}
