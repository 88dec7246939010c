// The ONNX protobuf pieces that every graph built or edited here is made of (value infos, initializer tensors with
// little-endian raw data, attributes, nodes), written one way for the TFJS converter, backbone preparation, head
// fusion and the head graphs.
import { onnx } from 'onnx-proto';

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;

/** An attribute value: an integer, a string, integers, or floats marked as such (a JS number cannot say which). */
export type AttributeValue = number | string | readonly number[] | { float: number } | { floats: readonly number[] };

/** A dimension: a fixed size, or a symbolic name (dynamic batch). */
export type Dim = number | string;

/** The value info of a tensor of `elemType` (float32 unless said); a dimension may also be one copied from a graph. */
export function valueInfo(
  name: string,
  dims: readonly (Dim | onnx.TensorShapeProto.IDimension)[],
  elemType: number = FLOAT,
): onnx.ValueInfoProto {
  const dim = dims.map((d) => {
    const fields = typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : d;
    return onnx.TensorShapeProto.Dimension.create(fields);
  });
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({ elemType, shape: onnx.TensorShapeProto.create({ dim }) }),
    }),
  });
}

/** Little-endian raw_data, as the spec requires: a view, no copy (typed arrays are little-endian wherever Node runs). */
export function rawData(data: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A float32 or int64 tensor (an initializer), typed by its data. The data is referenced, not copied: changes
 * made to it before the model is encoded end up in the model.
 */
export function tensor(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): onnx.TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`tensor ${name}: shape [${dims.join(',')}] needs ${count} values, got ${data.length}`);
  }
  const dataType = data instanceof Float32Array ? FLOAT : INT64;
  return onnx.TensorProto.create({ name, dims: [...dims], dataType, rawData: rawData(data) });
}

/** An attribute; a non-integer plain number is refused, since ONNX would read it as an INT. */
export function attribute(name: string, value: AttributeValue): onnx.AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      throw new RangeError(`attribute ${name}: ${value} is not an integer (use { float } for floats)`);
    }
    return onnx.AttributeProto.create({ name, type: T.INT, i: value });
  }
  if (typeof value === 'string') {
    return onnx.AttributeProto.create({ name, type: T.STRING, s: Buffer.from(value, 'utf8') });
  }
  if ('float' in value) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: value.float });
  if ('floats' in value) return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: [...value.floats] });
  return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...value] });
}

/** A node of the default domain. */
export function node(
  opType: string,
  name: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attributes: Readonly<Record<string, AttributeValue>> = {},
): onnx.NodeProto {
  return onnx.NodeProto.create({
    opType,
    name,
    input: [...inputs],
    output: [...outputs],
    attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
  });
}
