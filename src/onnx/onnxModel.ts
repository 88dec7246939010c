// Small helpers to assemble an ONNX graph and serialise it with the protobufjs-generated schema (onnx-proto).
import { onnx } from 'onnx-proto';

/** IR version 8 (ONNX 1.10+): well inside what onnxruntime 1.30 reads. */
export const ONNX_IR_VERSION = 8;
/** Opset 13: Softmax on one axis, Pad with tensor inputs, Gather/Flatten/Gemm/Conv/BatchNormalization all available. */
export const ONNX_OPSET = 13;

export type AttributeValue = number | string | readonly number[] | { float: number } | { floats: readonly number[] };

/** A dimension: a fixed size, or a symbolic name (dynamic batch). */
export type Dim = number | string;

interface PendingNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
}

export class OnnxGraphBuilder {
  private readonly nodes: PendingNode[] = [];
  private readonly initializers = new Map<string, { dims: number[]; data: Float32Array | BigInt64Array }>();
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly usedNames = new Set<string>();

  constructor(private readonly graphName: string) {}

  /** A tensor name not used yet, derived from `base` (Keras names may repeat across our helper nodes). */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  addInput(name: string, dims: readonly Dim[]): void {
    this.usedNames.add(name);
    this.inputs.push(valueInfo(name, dims));
  }

  addOutput(name: string, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, dims));
  }

  /** Float32 (or int64) constant; the array is kept by reference so callers may still fold into it before `toBytes`. */
  addInitializer(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`initializer ${name}: shape [${dims.join(',')}] needs ${count} values, got ${data.length}`);
    this.usedNames.add(name);
    this.initializers.set(name, { dims: [...dims], data });
    return name;
  }

  getInitializer(name: string): Float32Array | BigInt64Array | undefined {
    return this.initializers.get(name)?.data;
  }

  /** Adds a node and returns it, so a later pass (BatchNorm folding) can append an input such as a bias. */
  addNode(opType: string, inputs: string[], outputs: string[], attributes: Record<string, AttributeValue> = {}, name?: string): PendingNode {
    for (const output of outputs) this.usedNames.add(output);
    const node: PendingNode = { opType, name: name ?? outputs[0] ?? opType, inputs, outputs, attributes };
    this.nodes.push(node);
    return node;
  }

  toBytes(producer: { name: string; version: string }): Uint8Array {
    const graph: onnx.IGraphProto = {
      name: this.graphName,
      node: this.nodes.map((node) => ({
        opType: node.opType,
        name: node.name,
        input: node.inputs,
        output: node.outputs,
        attribute: Object.entries(node.attributes).map(([key, value]) => attribute(key, value)),
      })),
      initializer: [...this.initializers].map(([name, { dims, data }]) => ({
        name,
        dims,
        dataType: data instanceof Float32Array ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64,
        // raw_data is little-endian by spec, as are typed arrays on every platform Node runs on; a view avoids a copy.
        rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      })),
      input: this.inputs,
      output: this.outputs,
    };
    const model: onnx.IModelProto = {
      irVersion: ONNX_IR_VERSION,
      producerName: producer.name,
      producerVersion: producer.version,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      graph,
    };
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, dims: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer (use { float } for floats)`);
    return { name, type: T.INT, i: value };
  }
  if (typeof value === 'string') return { name, type: T.STRING, s: Buffer.from(value, 'utf8') };
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: T.FLOATS, floats: [...value.floats] };
  return { name, type: T.INTS, ints: [...value] };
}
