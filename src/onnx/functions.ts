// Inlining model-local functions. PyTorch's dynamo exporter (onnxscript's torch_lib) puts the network inside
// FunctionProtos: one per module call (nested: model -> head -> conv), leaf ops as torch_lib functions whose attributes
// reference the caller's (`ref_attr_name`: Conv's strides/pads/group, LeakyRelu's alpha with a default), in custom
// domains (pkg.torch.*, pkg.onnxscript.torch_lib). prunedet analyses and prunes plain graphs, so every call of a
// model-local function is replaced by its body before the IR is built: formal inputs and outputs become the caller's
// values, every other name gets a unique prefixed name, attribute references take the caller's value or the
// function's default, nested calls are expanded in turn, and the functions' opset imports join the model's. The
// compiled model is the inlined graph (no functions left).
import { PrunedetError } from '../errors';
import type { ProtoMessage } from './codec';

type Node = ProtoMessage & {
  input?: string[];
  output?: string[];
  op_type?: string;
  domain?: string;
  name?: string;
  overload?: string;
  attribute?: Attr[];
};
type Attr = ProtoMessage & { name?: string; ref_attr_name?: string; g?: Graph; graphs?: Graph[] };
type Graph = ProtoMessage & {
  node?: Node[];
  input?: { name?: string }[];
  output?: { name?: string }[];
  initializer?: { name?: string }[];
};
interface Fn {
  name?: string;
  domain?: string;
  overload?: string;
  input?: string[];
  output?: string[];
  attribute?: string[];
  attribute_proto?: Attr[];
  node?: Node[];
  opset_import?: { domain?: string; version?: number | bigint }[];
}

/** Deepest nesting of function calls followed (a function calling itself would recurse forever). */
const MAX_DEPTH = 64;

const keyOf = (domain: string | undefined, name: string | undefined, overload: string | undefined) =>
  `${domain ?? ''}\u0000${name ?? ''}\u0000${overload ?? ''}`;

/** Every name a graph (and its subgraphs) defines or reads. */
function collectNames(g: Graph, into: Set<string>): void {
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.initializer ?? [])]) if (v.name) into.add(v.name);
  for (const n of g.node ?? []) {
    for (const x of [...(n.input ?? []), ...(n.output ?? [])]) if (x) into.add(x);
    if (n.name) into.add(`node:${n.name}`);
    for (const a of n.attribute ?? []) {
      if (a.g) collectNames(a.g, into);
      for (const sg of a.graphs ?? []) collectNames(sg, into);
    }
  }
}

export interface InlineResult {
  /** Function calls expanded (nested ones included). */
  calls: number;
  /** Model-local functions the model declared. */
  functions: number;
}

/**
 * Inline every call of a model-local function in `model` (a decoded ModelProto), in place; drop the functions and
 * the opset imports of domains that only they used.
 */
export function inlineFunctions(model: ProtoMessage, label = 'the model'): InlineResult {
  const fns = (model.functions as Fn[] | undefined) ?? [];
  if (!fns.length) return { calls: 0, functions: 0 };
  const table = new Map<string, Fn>();
  for (const f of fns) table.set(keyOf(f.domain, f.name, f.overload), f);
  const graph = model.graph as Graph;
  const used = new Set<string>();
  collectNames(graph, used);
  for (const f of fns) for (const n of f.node ?? []) if (n.name) used.add(`node:${n.name}`);
  const fresh = (base: string, node = false) => {
    const key = (s: string) => (node ? `node:${s}` : s);
    let name = base;
    for (let i = 1; used.has(key(name)); i++) name = `${base}__${i}`;
    used.add(key(name));
    return name;
  };
  const opsets = (model.opset_import as { domain?: string; version?: number | bigint }[] | undefined) ?? [];
  const fnDomains = new Set(fns.map((f) => f.domain ?? ''));
  let calls = 0;

  const expandList = (nodes: Node[], depth: number): Node[] => {
    const out: Node[] = [];
    for (const n of nodes) {
      for (const a of n.attribute ?? []) {
        if (a.g) a.g.node = expandList(a.g.node ?? [], depth);
        for (const sg of a.graphs ?? []) sg.node = expandList(sg.node ?? [], depth);
      }
      const fn = table.get(keyOf(n.domain, n.op_type, n.overload));
      if (!fn) {
        out.push(n);
        continue;
      }
      if (depth >= MAX_DEPTH) {
        throw new PrunedetError(
          'E_ONNX_INVALID',
          `${label}: model-local function ${fn.domain}::${fn.name} calls itself (nesting deeper than ${MAX_DEPTH})`,
          're-export the model (functions must not recurse)',
        );
      }
      calls++;
      for (const o of fn.opset_import ?? [])
        if (!opsets.some((m) => (m.domain ?? '') === (o.domain ?? ''))) opsets.push({ ...o });
      out.push(...expandList(instantiate(fn, n, fresh, label), depth + 1));
    }
    return out;
  };
  graph.node = expandList(graph.node ?? [], 0);
  delete model.functions;
  // domains only the functions' calls used
  const live = new Set<string>();
  const visit = (g: Graph) => {
    for (const n of g.node ?? []) {
      live.add(n.domain ?? '');
      for (const a of n.attribute ?? []) {
        if (a.g) visit(a.g);
        for (const sg of a.graphs ?? []) visit(sg);
      }
    }
  };
  visit(graph);
  model.opset_import = opsets.filter(
    (o) => !fnDomains.has(o.domain ?? '') || live.has(o.domain ?? '') || (o.domain ?? '') === '',
  );
  return { calls, functions: fns.length };
}

/** The body of `fn` for the call `call`: names mapped, attributes resolved. */
function instantiate(fn: Fn, call: Node, fresh: (base: string, node?: boolean) => string, label: string): Node[] {
  const prefix = call.name || `${fn.name ?? 'function'}`;
  const rename = new Map<string, string>();
  (fn.output ?? []).forEach((formal, i) => {
    const actual = call.output?.[i];
    rename.set(formal, actual ? actual : fresh(`${prefix}/${formal}`));
  });
  (fn.input ?? []).forEach((formal, i) => rename.set(formal, call.input?.[i] ?? ''));
  const callerAttrs = new Map((call.attribute ?? []).map((a) => [a.name ?? '', a]));
  const defaults = new Map((fn.attribute_proto ?? []).map((a) => [a.name ?? '', a]));
  const nameOf = (x: string): string => {
    if (!x) return x;
    let r = rename.get(x);
    if (r === undefined) {
      r = fresh(`${prefix}/${x}`);
      rename.set(x, r);
    }
    return r;
  };
  const resolveAttrs = (attrs: Attr[] | undefined): Attr[] => {
    const out: Attr[] = [];
    for (const a of attrs ?? []) {
      if (a.ref_attr_name !== undefined) {
        const src = callerAttrs.get(a.ref_attr_name) ?? defaults.get(a.ref_attr_name);
        if (!src) continue; // an optional attribute the caller did not set: the op's own default applies
        const { ref_attr_name: _ref, ...rest } = src;
        void _ref;
        out.push({ ...structuredClone(rest), name: a.name });
        continue;
      }
      const copy: Attr = { ...a };
      if (a.g) copy.g = subgraph(a.g);
      if (a.graphs) copy.graphs = a.graphs.map(subgraph);
      out.push(copy);
    }
    return out;
  };
  // A subgraph inside the body: names it defines are renamed like the body's, names it reads from the body too.
  const subgraph = (g: Graph): Graph => {
    const copy: Graph = { ...g };
    copy.input = (g.input ?? []).map((v) => ({ ...v, name: nameOf(v.name ?? '') }));
    copy.output = (g.output ?? []).map((v) => ({ ...v, name: nameOf(v.name ?? '') }));
    copy.initializer = (g.initializer ?? []).map((t) => ({ ...t, name: nameOf(t.name ?? '') }));
    if (!copy.input.length) delete copy.input;
    if (!copy.initializer.length) delete copy.initializer;
    copy.node = (g.node ?? []).map(body);
    return copy;
  };
  const body = (n: Node): Node => {
    const copy: Node = { ...n, name: fresh(`${prefix}/${n.name || n.op_type || 'node'}`, true) };
    if (n.input) copy.input = n.input.map(nameOf);
    if (n.output) copy.output = n.output.map(nameOf);
    const attrs = resolveAttrs(n.attribute);
    if (attrs.length) copy.attribute = attrs;
    else delete copy.attribute;
    return copy;
  };
  const nodes = (fn.node ?? []).map(body);
  // a formal output no body node writes (it returns an input as is): copy the value through an Identity
  const written = new Set(nodes.flatMap((n) => n.output ?? []));
  (fn.output ?? []).forEach((formal, i) => {
    const actual = call.output?.[i];
    if (!actual || written.has(actual)) return;
    const from = (fn.input ?? []).indexOf(formal);
    if (from < 0 || !call.input?.[from]) {
      throw new PrunedetError(
        'E_ONNX_INVALID',
        `${label}: function ${fn.domain ?? ''}::${fn.name} never computes its output ${formal}`,
        're-export the model',
      );
    }
    nodes.push({
      op_type: 'Identity',
      name: fresh(`${prefix}/${formal}_passthrough`, true),
      input: [call.input[from]!],
      output: [actual],
    });
  });
  return nodes;
}
