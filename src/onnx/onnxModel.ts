// A builder that assembles a whole ONNX graph (the TFJS converter's, the head graphs') and serialises it with the
// protobufjs-generated schema (onnx-proto); its pieces come from tensorProto.ts.
import { onnx } from 'onnx-proto';

import { type AttributeValue, type Dim, node, tensor, valueInfo } from './tensorProto';

export type { AttributeValue, Dim } from './tensorProto';

/** IR version 8 (ONNX 1.10+): well inside what onnxruntime 1.30 reads. */
export const ONNX_IR_VERSION = 8;
/** Opset 13: Softmax on one axis, Pad with tensor inputs, Gather/Flatten/Gemm/Conv/BatchNormalization all available. */
export const ONNX_OPSET = 13;

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
    if (count !== data.length) {
      throw new RangeError(`initializer ${name}: shape [${dims.join(',')}] needs ${count} values, got ${data.length}`);
    }
    this.usedNames.add(name);
    this.initializers.set(name, { dims: [...dims], data });
    return name;
  }

  getInitializer(name: string): Float32Array | BigInt64Array | undefined {
    return this.initializers.get(name)?.data;
  }

  /** Adds a node and returns it, so a later pass (BatchNorm folding) can append an input such as a bias. */
  addNode(
    opType: string,
    inputs: string[],
    outputs: string[],
    attributes: Record<string, AttributeValue> = {},
    name?: string,
  ): PendingNode {
    for (const output of outputs) this.usedNames.add(output);
    const pending: PendingNode = { opType, name: name ?? outputs[0] ?? opType, inputs, outputs, attributes };
    this.nodes.push(pending);
    return pending;
  }

  toBytes(producer: { name: string; version: string }): Uint8Array {
    const graph: onnx.IGraphProto = {
      name: this.graphName,
      node: this.nodes.map((p) => node(p.opType, p.name, p.inputs, p.outputs, p.attributes)),
      initializer: [...this.initializers].map(([name, { dims, data }]) => tensor(name, dims, data)),
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
