// Values fixed before run time: everything that depends on no graph input's data. Constants, shapes (Shape and Size
// read only metadata) and whatever the graph computes from them: the anchor grids torchvision's exporter builds from
// feature-map sizes (Shape -> Range -> Expand -> Concat, tens of thousands of rows), the level split points of a
// concatenated head, image sizes of in-graph preprocessing. Analysis treats them like constants; their values are
// evaluated on demand (float32 storage, as the graph computes them).
import type { Graph, Node, Value } from '../ir/graph';
import { Tensor } from '../ir/tensor';
import { DataType } from '../ir/dtype';
import type { ShapeResult } from '../shape/infer';
import { isStatic } from '../shape/types';
import { evalNode, LayoutEvalError, type Arr, type StaticSource } from './layout-eval';

/** Ops whose outputs are never fixed, whatever their inputs. */
const RANDOM = new Set([
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
]);

/** Largest static tensor evaluated (elements): an anchor table of a large RetinaNet input is ~2M numbers. */
const MAX_ELEMENTS = 1 << 25;

export class StaticValues implements StaticSource {
  private readonly dynamic = new Set<Value>();
  private readonly memo = new Map<Value, Arr | null>();

  constructor(
    graph: Graph,
    private readonly shapes: ShapeResult,
  ) {
    for (const v of graph.inputs) if (!v.initializer) this.dynamic.add(v);
    for (const n of graph.topoOrder()) {
      if (n.domain === '' && (n.opType === 'Shape' || n.opType === 'Size')) continue;
      const dyn =
        RANDOM.has(n.opType) || [...n.inputs, ...n.captures].some((v) => v !== undefined && this.dynamic.has(v));
      if (dyn) for (const o of n.outputs) if (o) this.dynamic.add(o);
    }
  }

  /** True when `v` is fixed before run time. */
  has(v: Value): boolean {
    return !this.dynamic.has(v);
  }

  /** Computed (not a constant) and static: the values a rewrite must not treat as initializers. */
  isComputed(v: Value): boolean {
    return this.has(v) && v.constant() === undefined;
  }

  /** The value-mode array of static `v`, or undefined when it cannot be evaluated here. */
  value(v: Value): Arr | undefined {
    if (!this.has(v)) return undefined;
    const hit = this.memo.get(v);
    if (hit !== undefined) return hit ?? undefined;
    const t = v.constant();
    let out: Arr | undefined;
    if (t) out = { shape: [...t.dims], data: Float32Array.from(t.numbers()) };
    else if (v.producer) out = this.evaluate(v.producer, v);
    this.memo.set(v, out ?? null);
    return out;
  }

  /** `v` as a tensor of its inferred element type. */
  tensor(v: Value): Tensor | undefined {
    const t = v.constant();
    if (t) return t;
    const a = this.value(v);
    if (!a) return undefined;
    const dtype = this.shapes.get(v)?.dtype ?? DataType.FLOAT;
    return dtype === DataType.FLOAT
      ? Tensor.fromFloat32(a.shape, a.data as Float32Array)
      : Tensor.fromNumbers(dtype, a.shape, Array.from(a.data));
  }

  private evaluate(node: Node, want: Value): Arr | undefined {
    const s = this.shapes.shape(want);
    if (!isStatic(s) || s.reduce((a, b) => a * b, 1) > MAX_ELEMENTS || node.domain !== '') return undefined;
    const env = new Map<Value, Arr>();
    const metadata = node.opType === 'Shape' || node.opType === 'Size';
    for (const i of metadata ? [] : node.inputs) {
      if (!i || i.constant()) continue;
      const a = this.value(i);
      if (!a) return undefined;
      env.set(i, a);
    }
    try {
      const outs = evalNode({ mode: 'value', shapes: this.shapes, env, statics: this }, node);
      node.outputs.forEach((o, k) => o && o !== want && outs[k] && this.memo.set(o, outs[k]!));
      return outs[node.outputs.indexOf(want)];
    } catch (e) {
      if (e instanceof LayoutEvalError) return undefined;
      throw e;
    }
  }
}
