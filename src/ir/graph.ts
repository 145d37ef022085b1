// The graph IR every stage of prunedet works on: Values (with producer and uses), Nodes, the Graph and the Model.
// It knows nothing of protobuf: src/onnx/ translates. Fields the IR does not model travel in `extra` records and are
// written back unchanged, which is what makes the load/save round trip lossless.
import type { Int64, Tensor } from './tensor';

/** A dimension: a size, or a symbolic name (`batch`, `unk__3`). */
export type Dim = number | string;

export interface Use {
  readonly node: Node;
  /** Input slot; -1 for a capture by one of the node's subgraphs. */
  readonly index: number;
}

export class Value {
  producer: Node | undefined;
  readonly uses: Use[] = [];
  /** The tensor when this value is a graph initializer (a constant). */
  initializer: Tensor | undefined;
  /** The declared type (ValueInfoProto without its name) when the model lists this value as input/output/value_info. */
  info: Record<string, unknown> | undefined;

  constructor(
    public name: string,
    readonly graph: Graph,
  ) {}

  get isGraphInput(): boolean {
    return this.graph.inputs.includes(this);
  }

  get isGraphOutput(): boolean {
    return this.graph.outputs.includes(this);
  }

  /**
   * The constant tensor behind this value: an initializer, the output of a Constant node with a `value`, or either of
   * them through Identity nodes (torch.onnx shares equal initializers that way).
   */
  constant(): Tensor | undefined {
    if (this.initializer) return this.initializer;
    const p = this.producer;
    if (p && p.domain === '') {
      if (p.opType === 'Constant') {
        const a = p.attr('value');
        if (a?.value.type === 'tensor') return a.value.value;
      } else if (p.opType === 'Identity') {
        return p.inputs[0]?.constant();
      }
    }
    return undefined;
  }
}

export type AttrValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: Int64 }
  | { type: 'string'; value: Uint8Array }
  | { type: 'tensor'; value: Tensor }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: Int64[] }
  | { type: 'strings'; value: Uint8Array[] }
  | { type: 'tensors'; value: Tensor[] }
  /** Subgraphs, sparse tensors, type protos, references: kept opaque (ONNX message objects). */
  | { type: 'opaque'; value: Record<string, unknown> };

export interface Attribute {
  readonly name: string;
  readonly value: AttrValue;
  /** Other AttributeProto fields (type discriminator, doc_string, ref_attr_name, unknown fields). */
  readonly extra: Record<string, unknown>;
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

export class Node {
  readonly inputs: (Value | undefined)[] = [];
  readonly outputs: (Value | undefined)[] = [];
  attributes: Attribute[];
  /** Values read inside this node's subgraphs (If/Loop/Scan bodies) from the enclosing graph. */
  readonly captures: Value[] = [];
  /** NodeProto fields beyond inputs/outputs/attributes: op_type, domain, name, doc_string, overload, metadata... */
  extra: Record<string, unknown>;

  constructor(
    readonly graph: Graph,
    extra: Record<string, unknown>,
    attributes: Attribute[] = [],
  ) {
    this.extra = extra;
    this.attributes = attributes;
  }

  get opType(): string {
    return (this.extra.op_type as string | undefined) ?? '';
  }
  set opType(v: string) {
    this.extra.op_type = v;
  }
  get domain(): string {
    const d = (this.extra.domain as string | undefined) ?? '';
    return d === 'ai.onnx' ? '' : d;
  }
  get name(): string {
    return (this.extra.name as string | undefined) ?? '';
  }
  set name(v: string) {
    this.extra.name = v;
  }

  /** `name (OpType)` or `#index (OpType)` for unnamed nodes: how errors refer to a node. */
  label(): string {
    const n = this.name || `#${this.graph.nodes.indexOf(this)}`;
    return `${n} (${this.opType})`;
  }

  input(i: number): Value | undefined {
    return this.inputs[i];
  }

  output(i = 0): Value {
    const v = this.outputs[i];
    if (!v) throw new Error(`node ${this.label()} has no output ${i}`);
    return v;
  }

  attr(name: string): Attribute | undefined {
    return this.attributes.find((a) => a.name === name);
  }

  getInt(name: string, dflt: number): number;
  getInt(name: string): number | undefined;
  getInt(name: string, dflt?: number): number | undefined {
    const a = this.attr(name);
    if (!a) return dflt;
    if (a.value.type !== 'int') throw new Error(`attribute ${name} of ${this.label()} is not an int`);
    return Number(a.value.value);
  }

  getInts(name: string, dflt: number[]): number[];
  getInts(name: string): number[] | undefined;
  getInts(name: string, dflt?: number[]): number[] | undefined {
    const a = this.attr(name);
    if (!a) return dflt;
    if (a.value.type !== 'ints') throw new Error(`attribute ${name} of ${this.label()} is not a list of ints`);
    return a.value.value.map(Number);
  }

  getFloat(name: string, dflt: number): number;
  getFloat(name: string): number | undefined;
  getFloat(name: string, dflt?: number): number | undefined {
    const a = this.attr(name);
    if (!a) return dflt;
    if (a.value.type !== 'float') throw new Error(`attribute ${name} of ${this.label()} is not a float`);
    return a.value.value;
  }

  getFloats(name: string): number[] | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    if (a.value.type !== 'floats') throw new Error(`attribute ${name} of ${this.label()} is not a list of floats`);
    return a.value.value;
  }

  getString(name: string, dflt: string): string;
  getString(name: string): string | undefined;
  getString(name: string, dflt?: string): string | undefined {
    const a = this.attr(name);
    if (!a) return dflt;
    if (a.value.type !== 'string') throw new Error(`attribute ${name} of ${this.label()} is not a string`);
    return textDecoder.decode(a.value.value);
  }

  getTensor(name: string): Tensor | undefined {
    const a = this.attr(name);
    return a?.value.type === 'tensor' ? a.value.value : undefined;
  }

  /** Set (replace or append) an attribute, keeping the position and extra fields of one it replaces. */
  setAttr(name: string, value: AttrValue): void {
    const i = this.attributes.findIndex((a) => a.name === name);
    const extra = i >= 0 ? { ...this.attributes[i]!.extra } : {};
    const attr: Attribute = { name, value, extra };
    if (i >= 0) this.attributes[i] = attr;
    else this.attributes.push(attr);
  }

  removeAttr(name: string): void {
    this.attributes = this.attributes.filter((a) => a.name !== name);
  }

  /** Point input slot `i` at `v` (or leave it empty), keeping both values' use lists right. */
  setInput(i: number, v: Value | undefined): void {
    const old = this.inputs[i];
    if (old) removeUse(old, this, i);
    while (this.inputs.length <= i) this.inputs.push(undefined);
    this.inputs[i] = v;
    if (v) v.uses.push({ node: this, index: i });
  }

  addInput(v: Value | undefined): void {
    this.setInput(this.inputs.length, v);
  }

  /** Drop input slots from `i` on (trailing optional inputs). */
  truncateInputs(n: number): void {
    for (let i = this.inputs.length - 1; i >= n; i--) {
      this.setInput(i, undefined);
      this.inputs.pop();
    }
  }

  setOutput(i: number, v: Value | undefined): void {
    const old = this.outputs[i];
    if (old && old.producer === this) old.producer = undefined;
    while (this.outputs.length <= i) this.outputs.push(undefined);
    this.outputs[i] = v;
    if (v) {
      if (v.producer && v.producer !== this)
        throw new Error(`value ${v.name} already has producer ${v.producer.label()}`);
      v.producer = this;
    }
  }
}

function removeUse(v: Value, node: Node, index: number): void {
  const k = v.uses.findIndex((u) => u.node === node && u.index === index);
  if (k >= 0) v.uses.splice(k, 1);
}

export function encodeString(s: string): Uint8Array {
  return textEncoder.encode(s);
}

export class Graph {
  nodes: Node[] = [];
  inputs: Value[] = [];
  outputs: Value[] = [];
  /** Initializer values in file order. */
  initializers: Value[] = [];
  /** Values that carry a value_info entry, in file order. */
  valueInfo: Value[] = [];
  readonly values = new Map<string, Value>();
  /** GraphProto fields the IR does not model (name, doc_string, sparse initializers, annotations, metadata). */
  extra: Record<string, unknown> = {};
  private nameCounter = 0;

  get name(): string {
    return (this.extra.name as string | undefined) ?? '';
  }

  /** The value called `name`, created (without producer) on first mention. */
  value(name: string): Value {
    let v = this.values.get(name);
    if (!v) {
      v = new Value(name, this);
      this.values.set(name, v);
    }
    return v;
  }

  /** Rename `v` (its name must stay unique in the graph). */
  renameValue(v: Value, name: string): void {
    if (v.name === name) return;
    if (this.values.has(name)) throw new Error(`cannot rename ${v.name} to ${name}: the name is taken`);
    this.values.delete(v.name);
    v.name = name;
    this.values.set(name, v);
  }

  /** A value with a fresh name derived from `base`. */
  newValue(base: string): Value {
    return this.value(this.uniqueName(base));
  }

  uniqueName(base: string): string {
    if (!this.values.has(base)) return base;
    for (;;) {
      const n = `${base}__${++this.nameCounter}`;
      if (!this.values.has(n)) return n;
    }
  }

  /** Add an initializer value named (uniquely) after `base`. */
  addInitializer(base: string, tensor: Tensor): Value {
    const v = this.newValue(base);
    v.initializer = tensor;
    this.initializers.push(v);
    return v;
  }

  /** A copy of initializer `v` under a new name (for one initializer shared by several nodes that now diverge). */
  cloneInitializer(v: Value, base = `${v.name}_clone`): Value {
    if (!v.initializer) throw new Error(`value ${v.name} is not an initializer`);
    const t = v.initializer;
    const copy = t.withData(t.dims, new Uint8Array(t.bytes())); // a real copy (Buffer.slice would share memory)
    const c = this.addInitializer(base, copy);
    if (v.info) c.info = structuredClone(v.info);
    return c;
  }

  /** Remove an initializer with no remaining uses (and its graph-input entry, as in IR-3 exports). */
  removeInitializer(v: Value): void {
    if (v.uses.length > 0) throw new Error(`initializer ${v.name} still has ${v.uses.length} uses`);
    this.initializers = this.initializers.filter((x) => x !== v);
    this.inputs = this.inputs.filter((x) => x !== v);
    this.valueInfo = this.valueInfo.filter((x) => x !== v);
    v.initializer = undefined;
    this.values.delete(v.name);
  }

  /**
   * Create and insert a node. Inputs/outputs given as Values; the node goes before `before` (default: end of list).
   */
  addNode(
    opType: string,
    inputs: (Value | undefined)[],
    outputs: Value[],
    opts: { name?: string; domain?: string; attributes?: Attribute[]; before?: Node; after?: Node } = {},
  ): Node {
    const extra: Record<string, unknown> = { op_type: opType };
    if (opts.name !== undefined) extra.name = opts.name;
    if (opts.domain) extra.domain = opts.domain;
    const node = new Node(this, extra, opts.attributes ?? []);
    inputs.forEach((v, i) => node.setInput(i, v));
    outputs.forEach((v, i) => node.setOutput(i, v));
    this.insertNode(node, opts);
    return node;
  }

  insertNode(node: Node, at: { before?: Node; after?: Node } = {}): void {
    if (at.before) {
      const i = this.nodes.indexOf(at.before);
      this.nodes.splice(i < 0 ? this.nodes.length : i, 0, node);
    } else if (at.after) {
      const i = this.nodes.indexOf(at.after);
      this.nodes.splice(i < 0 ? this.nodes.length : i + 1, 0, node);
    } else {
      this.nodes.push(node);
    }
  }

  /** Remove a node: its input uses are dropped; its outputs lose their producer (callers rewire uses first). */
  removeNode(node: Node): void {
    node.inputs.forEach((v, i) => v && removeUse(v, node, i));
    for (const v of node.captures) removeUse(v, node, -1);
    for (const v of node.outputs) if (v && v.producer === node) v.producer = undefined;
    const i = this.nodes.indexOf(node);
    if (i >= 0) this.nodes.splice(i, 1);
  }

  /** Every use of `from` (node inputs and graph outputs) now reads `to`. */
  replaceAllUsesWith(from: Value, to: Value): void {
    for (const u of [...from.uses]) {
      if (u.index >= 0) u.node.setInput(u.index, to);
    }
    this.outputs = this.outputs.map((o) => (o === from ? to : o));
  }

  /** Nodes in a topological order (stable: keeps the current order where dependencies allow). */
  topoOrder(): Node[] {
    const indeg = new Map<Node, number>();
    const after = new Map<Node, Node[]>();
    for (const n of this.nodes) indeg.set(n, 0);
    for (const n of this.nodes) {
      for (const v of [...n.inputs, ...n.captures]) {
        const p = v?.producer;
        if (p && indeg.has(p)) {
          indeg.set(n, indeg.get(n)! + 1);
          (after.get(p) ?? after.set(p, []).get(p)!).push(n);
        }
      }
    }
    const pos = new Map(this.nodes.map((n, i) => [n, i]));
    // A binary heap keyed by original position keeps the result stable and the sort O(n log n).
    const heap: Node[] = [];
    const push = (n: Node) => {
      heap.push(n);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (pos.get(heap[p]!)! <= pos.get(heap[i]!)!) break;
        [heap[p], heap[i]] = [heap[i]!, heap[p]!];
        i = p;
      }
    };
    const pop = (): Node => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && pos.get(heap[l]!)! < pos.get(heap[m]!)!) m = l;
          if (r < heap.length && pos.get(heap[r]!)! < pos.get(heap[m]!)!) m = r;
          if (m === i) break;
          [heap[m], heap[i]] = [heap[i]!, heap[m]!];
          i = m;
        }
      }
      return top;
    };
    for (const n of this.nodes) if (indeg.get(n) === 0) push(n);
    const out: Node[] = [];
    while (heap.length) {
      const n = pop();
      out.push(n);
      for (const m of after.get(n) ?? []) {
        const d = indeg.get(m)! - 1;
        indeg.set(m, d);
        if (d === 0) push(m);
      }
    }
    if (out.length !== this.nodes.length) {
      const stuck = this.nodes.find((n) => indeg.get(n)! > 0)!;
      throw new Error(`graph has a cycle through node ${stuck.label()}`);
    }
    return out;
  }

  /** Reorder `nodes` topologically in place. */
  sortTopologically(): void {
    this.nodes = this.topoOrder();
  }
}

export class Model {
  /** ModelProto fields beyond the graph: ir_version, opset_import, producer, metadata, functions, training_info... */
  extra: Record<string, unknown>;

  constructor(
    public graph: Graph,
    extra: Record<string, unknown> = {},
  ) {
    this.extra = extra;
  }

  get irVersion(): number {
    return Number(this.extra.ir_version ?? 0);
  }

  set irVersion(v: number) {
    this.extra.ir_version = v;
  }

  /** Every imported opset, as the model lists them ('' = ai.onnx). */
  opsets(): { domain: string; version: number }[] {
    const list = (this.extra.opset_import as { domain?: string; version?: Int64 }[] | undefined) ?? [];
    return list.map((o) => ({ domain: o.domain ?? '', version: Number(o.version ?? 0) }));
  }

  /** The opset version imported for `domain` ('' = ai.onnx), or undefined. */
  opset(domain = ''): number | undefined {
    const list = (this.extra.opset_import as { domain?: string; version?: Int64 }[] | undefined) ?? [];
    const hit = list.find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
    return hit?.version === undefined ? undefined : Number(hit.version);
  }

  get producer(): string {
    const n = (this.extra.producer_name as string | undefined) ?? '';
    const v = (this.extra.producer_version as string | undefined) ?? '';
    return [n, v].filter(Boolean).join(' ');
  }
}
