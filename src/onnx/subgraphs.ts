// Walking the subgraphs of a node (If/Loop/Scan bodies), which the IR keeps as opaque ONNX messages: every NodeProto
// inside them, recursively, for code that reads op types or renames the outer values they reference.
import type { Node } from '../ir/graph';

export interface SubgraphNode {
  op_type?: string;
  input?: string[];
  attribute?: { g?: unknown; graphs?: unknown[] }[];
}

type GraphLike = { node?: SubgraphNode[] } | undefined;

/** Call `fn` on every node of every subgraph of `node`, depth first. */
export function forEachSubgraphNode(node: Node, fn: (n: SubgraphNode) => void): void {
  const visit = (g: GraphLike) => {
    for (const n of g?.node ?? []) {
      fn(n);
      for (const a of n.attribute ?? []) {
        if (a.g) visit(a.g as GraphLike);
        for (const sg of a.graphs ?? []) visit(sg as GraphLike);
      }
    }
  };
  for (const a of node.attributes) {
    if (a.value.type !== 'opaque') continue;
    const p = a.value.value as { g?: unknown; graphs?: unknown[] };
    if (p.g) visit(p.g as GraphLike);
    for (const sg of p.graphs ?? []) visit(sg as GraphLike);
  }
}
