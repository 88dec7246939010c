// The shared ONNX protobuf pieces: what they encode, read back through onnx-proto, and the mistakes they refuse.
import { onnx } from 'onnx-proto';
import { describe, expect, it } from 'vitest';

import { attribute, node, tensor, valueInfo } from '../../src/onnx/tensorProto';

describe('tensorProto', () => {
  it('tensors keep their type, shape and little-endian values through encoding', () => {
    const roundTrip = (t: onnx.ITensorProto) => onnx.TensorProto.decode(onnx.TensorProto.encode(t).finish());
    const floats = roundTrip(tensor('w', [2, 2], Float32Array.of(1, -2, 3.5, 0)));
    expect(floats.dataType).toBe(onnx.TensorProto.DataType.FLOAT);
    expect(floats.dims.map(Number)).toEqual([2, 2]);
    expect(Array.from(new Float32Array(Uint8Array.from(floats.rawData).buffer))).toEqual([1, -2, 3.5, 0]);
    const ints = roundTrip(tensor('axes', [], BigInt64Array.of(-1n)));
    expect(ints.dataType).toBe(onnx.TensorProto.DataType.INT64);
    expect(Array.from(new BigInt64Array(Uint8Array.from(ints.rawData).buffer))).toEqual([-1n]);
  });

  it('refuses a shape that does not fit the data, and a float given as an integer attribute', () => {
    expect(() => tensor('w', [2, 3], new Float32Array(5))).toThrow(/tensor w: shape \[2,3\] needs 6 values, got 5/);
    expect(() => attribute('alpha', 0.5)).toThrow(/attribute alpha: 0.5 is not an integer \(use \{ float \}/);
  });

  it('writes attributes of every kind, nodes and value infos', () => {
    const T = onnx.AttributeProto.AttributeType;
    expect(attribute('axis', -1)).toMatchObject({ type: T.INT, i: -1 });
    expect(attribute('alpha', { float: 0.5 })).toMatchObject({ type: T.FLOAT, f: 0.5 });
    expect(attribute('pads', [0, 1])).toMatchObject({ type: T.INTS, ints: [0, 1] });
    const softmax = node('Softmax', 'sm', ['logits'], ['p'], { axis: -1 });
    expect(softmax).toMatchObject({ opType: 'Softmax', name: 'sm', input: ['logits'], output: ['p'] });
    expect(softmax.attribute[0]).toMatchObject({ name: 'axis', i: -1 });
    const info = valueInfo('x', ['N', 3]);
    expect(info.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['N', 3]);
  });
});
