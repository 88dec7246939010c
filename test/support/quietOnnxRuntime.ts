// Imported first by the test files whose sessions fall back on purpose (cuda and webgpu asked for on a machine
// without them): ONNX Runtime would print each failed library load (and Dawn its Vulkan warning) straight to the
// process's stderr, where a passing run shows them as errors. The process-wide level only takes effect before the
// first session, hence an import of its own; the tests assert the fallback through resolveProviders' warnings.
import * as ort from 'onnxruntime-node';

ort.env.logLevel = 'fatal';
