// Dead-code elimination for an ONNX graph, shared by the head fuser and the backbone preparer.
import type { onnx } from 'onnx-proto';

/**
 * Drops the nodes and initializers no graph output needs any more (e.g. a backbone's ImageNet classifier).
 * Walks the nodes backwards from the graph outputs, so it relies on the nodes being in topological order, as ONNX
 * requires. Graph inputs and value_info are left as they are; names only referenced from inside a subgraph
 * (If/Loop/Scan bodies reading an outer-scope tensor) are not followed.
 */
export function pruneUnreachable(graph: onnx.IGraphProto): void {
  const needed = new Set((graph.output ?? []).map((output) => output.name!));
  const nodes = graph.node ?? [];
  const kept: onnx.INodeProto[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if ((node.output ?? []).some((name) => needed.has(name))) {
      kept.push(node);
      for (const input of node.input ?? []) needed.add(input);
    }
  }
  graph.node = kept.reverse();
  graph.initializer = (graph.initializer ?? []).filter((tensor) => needed.has(tensor.name!));
}
