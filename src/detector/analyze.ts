// Detector analysis: from a model with no hints, the levels, head convs, per-anchor channel groups, anchors per
// location, how values reach the outputs, post-processing already in the graph, and the embedded anchor table.
// Method: walk back from the outputs through layout ops to the head convs (region.ts), trace element provenance
// through that region (layout-eval.ts), read anchors/values per row off the traced outputs (rows.ts).
import type { Model, Node, Value } from '../ir/graph';
import type { ShapeResult } from '../shape/infer';
import { nodeMacs } from '../cost/macs';
import { PrunedetError } from '../errors';
import { findRegion, traceRegion } from './region';
import { readOutput, type OutputMap, type OutputRows } from './rows';
import { headBranch } from './head-chain';
import { recoverAnchorTable } from './anchor-table';
import { applyHeadSpec, type HeadSpecFile } from './head-spec';
import type { DetectorSpec, GroupRole, HeadConv, HeadGroup, LevelSpec, OutputBinding } from './spec';

export interface AnalyzeOptions {
  headSpec?: HeadSpecFile;
  /** For messages: the model's file name. */
  label?: string;
}

const ACTIVATIONS = new Set(['Softmax', 'LogSoftmax', 'Sigmoid']);

/** Op types on any path from the region's convs to `out` (`inRegion`: the region's nodes). */
function opsOnPath(out: Value, inRegion: ReadonlySet<Node>): string[] {
  const ops = new Set<string>();
  const stack = [out];
  const seen = new Set<Value>();
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const p = v.producer;
    if (!p || !inRegion.has(p)) continue;
    ops.add(p.opType);
    for (const i of p.inputs) if (i) stack.push(i);
  }
  return [...ops];
}

function roleFromName(name: string): GroupRole | undefined {
  const n = name.toLowerCase();
  if (/landm|kps|keypoint|lmk/.test(n)) return 'landmarks';
  if (/score|cls|conf|logit|prob|class/.test(n)) return 'scores';
  if (/box|loc|reg|bbox|delta|coord/.test(n)) return 'boxes';
  if (/obj|iou|center|quality/.test(n)) return 'objectness';
  return undefined;
}

/** Role of each rows-output: activations mark scores, Exp marks decoded boxes, then K and names decide. */
function assignRoles(outs: { name: string; k: number; ops: string[] }[]): GroupRole[] {
  const roles: (GroupRole | undefined)[] = outs.map((o) => {
    if (o.ops.some((op) => ACTIVATIONS.has(op))) return 'scores';
    if (o.ops.includes('Exp')) return 'boxes';
    return undefined;
  });
  const has = (r: GroupRole) => roles.includes(r);
  outs.forEach((o, i) => {
    if (roles[i]) return;
    const byName = roleFromName(o.name);
    if (byName && !(byName === 'boxes' && o.k !== 4) && !(byName === 'scores' && has('scores'))) roles[i] = byName;
    else if (o.k === 4 && !has('boxes')) roles[i] = 'boxes';
  });
  outs.forEach((o, i) => {
    if (roles[i]) return;
    if (o.k === 10) roles[i] = 'landmarks';
    else if (o.k === 1) roles[i] = 'objectness';
  });
  if (!has('scores')) {
    let best = -1;
    outs.forEach((o, i) => {
      if (!roles[i] && (best < 0 || o.k > outs[best]!.k)) best = i;
    });
    if (best >= 0) roles[best] = 'scores';
  }
  return roles.map((r) => r ?? 'extra');
}

export function analyzeDetector(model: Model, shapes: ShapeResult, opts: AnalyzeOptions = {}): DetectorSpec {
  const graph = model.graph;
  const label = opts.label ?? 'the model';
  const input = graph.inputs.find((v) => !v.initializer && (shapes.shape(v)?.length ?? 0) === 4);
  if (!input) {
    throw new PrunedetError('E_NOT_DETECTOR', `no image input found in ${label} (no graph input of rank 4)`, 'prunedet works on detectors taking an N,C,H,W image');
  }
  const inputShape = shapes.requireStatic(input, 'detector analysis');
  const region = findRegion(graph, shapes);
  const blocked = region.boundaries.filter((b) => b.kind === 'other');
  // An op prunedet cannot follow (NMS, TopK, ...) with head convs behind it: name it rather than "no head".
  const behind = blocked.find((b) => findRegion(graph, shapes, b.node!.inputs.filter((v): v is Value => v !== undefined)).convs.length > 0);
  if (blocked.length && (region.convs.length > 0 || behind)) {
    const n = (behind ?? blocked[0]!).node!;
    throw new PrunedetError('E_OP_UNSUPPORTED', `the outputs of ${label} pass through ${n.label()} after the head convs, which prunedet cannot follow (ops allowed there: layout, activations, decode arithmetic)`, n.opType === 'NonMaxSuppression' || n.opType === 'TopK' ? 'export the model without in-graph NMS/top-k (raw or decoded scores and boxes)' : 'simplify the model (onnx-simplifier) or pass --head-spec');
  }
  if (region.convs.length === 0) {
    const considered = graph.outputs.map((o) => `${o.name} (from ${o.producer ? o.producer.label() : 'graph input'})`).join(', ');
    const stops = region.boundaries.map((b) => (b.node ? b.node.label() : b.value.name)).join(', ');
    throw new PrunedetError('E_NOT_DETECTOR', `no detection head found in ${label}: outputs ${considered} do not come from convolutions through layout ops (the walk stopped at ${stops || 'constants'})`, 'prunedet prunes SSD/RetinaNet-style detectors; pass --head-spec to name the head convs of an unusual export');
  }
  const convShapes = region.convs.map((c) => shapes.requireStatic(c.output(), `head conv ${c.label()}`));
  const traced = traceRegion(region, shapes);
  // Outputs fixed before run time (the empty map of a level pruned away) carry no anchors to read.
  const live = graph.outputs.filter((o) => traced.has(o));
  const reads = live.map((o) => readOutput(o, traced.get(o)!, convShapes));
  const rowsOuts = reads.filter((r): r is OutputRows => r.kind === 'rows');
  const mapOuts = reads.filter((r): r is OutputMap => r.kind === 'map');
  // Post-processing ops between the head and each output, walked once per output.
  const inRegion = new Set(region.nodes);
  const opsOf = new Map(reads.map((r) => [r, opsOnPath(r.value, inRegion)]));

  // Anchors per location and values per anchor of each conv, from the rows-outputs reading it.
  const perConv = region.convs.map(() => ({ a: 0, step: 1, groups: [] as HeadGroup[] }));
  const outRoles = assignRoles(rowsOuts.map((r) => ({ name: r.value.name, k: r.valuesPerRow, ops: opsOf.get(r)! })));
  rowsOuts.forEach((r, oi) => {
    for (const [ci, info] of r.convs) {
      const pc = perConv[ci]!;
      if (!info.locationMajor) {
        throw new PrunedetError('E_HEAD_AMBIGUOUS', `output ${r.value.name} does not list the anchors of ${region.convs[ci]!.label()} location by location`, 'pass --head-spec');
      }
      if (pc.a && pc.a !== info.rowsPerLocation) {
        throw new PrunedetError('E_HEAD_AMBIGUOUS', `outputs disagree on the anchors per location of ${region.convs[ci]!.label()} (${pc.a} vs ${info.rowsPerLocation})`, 'pass --head-spec');
      }
      pc.a = info.rowsPerLocation;
      const C = convShapes[ci]![1]!;
      const K = C / pc.a;
      if (!Number.isInteger(K)) {
        throw new PrunedetError('E_HEAD_AMBIGUOUS', `output ${r.value.name} reads ${pc.a} anchors per location from ${region.convs[ci]!.label()}, whose ${C} channels do not split into ${pc.a} blocks`, 'pass --head-spec');
      }
      // A row's channels must stay inside one anchor's block: c = a*K + k (anchor-major) or c = k*A + a.
      const valueMajor = info.step > 1 && info.step === pc.a;
      const block = (c: number) => (valueMajor ? c % pc.a : Math.floor(c / K));
      for (let i = 0; i < info.rowMin.length; i++) {
        if (block(info.rowMin[i]!) !== block(info.rowMax[i]!)) {
          throw new PrunedetError('E_HEAD_AMBIGUOUS', `output ${r.value.name} mixes channels of different anchors of ${region.convs[ci]!.label()}`, 'pass --head-spec');
        }
      }
      if (info.step !== 0) pc.step = info.step;
      const c0 = info.firstChannels[0]!;
      const offset = valueMajor ? Math.floor(c0 / pc.a) : c0 % K;
      pc.groups.push({ role: outRoles[oi]!, offset, size: r.valuesPerRow, outputs: [r.value.name] });
    }
  });

  // Levels: convs grouped by output H x W, ordered by where their rows start on the anchor axis.
  const levelKey = (ci: number) => convShapes[ci]!.slice(2).join('x');
  const keys: string[] = [];
  for (const r of rowsOuts) for (const ci of r.convOrder) if (!keys.includes(levelKey(ci))) keys.push(levelKey(ci));
  const rest = region.convs.map((_, ci) => levelKey(ci)).filter((k) => !keys.includes(k));
  rest.sort((a, b) => b.split('x').reduce((p, q) => p * +q, 1) - a.split('x').reduce((p, q) => p * +q, 1));
  keys.push(...new Set(rest));
  // Per level (as `keys`), its convs' indices, ascending.
  const levelMembers = keys.map((k) => region.convs.flatMap((_, ci) => (levelKey(ci) === k ? [ci] : [])));

  if (opts.headSpec) applyHeadSpec(opts.headSpec, region.convs, convShapes, levelMembers, perConv);
  else inferMapAnchors(keys, levelMembers, convShapes, perConv, (ci) => mapOuts.find((m) => m.conv === ci)?.value.name ?? region.convs[ci]!.name);
  for (const m of mapOuts) perConv[m.conv]!.groups.forEach((g) => g.outputs.includes(m.value.name) || g.outputs.push(m.value.name));

  let offset = 0;
  const levels: LevelSpec[] = levelMembers.map((members, li) => {
    const [H, W] = convShapes[members[0]!]!.slice(2) as [number, number];
    const a = perConv[members[0]!]!.a;
    if (members.some((ci) => perConv[ci]!.a !== a)) {
      throw new PrunedetError('E_HEAD_AMBIGUOUS', `the head convs of the ${H}x${W} level disagree on anchors per location (${members.map((ci) => `${region.convs[ci]!.label()}: ${perConv[ci]!.a}`).join(', ')})`, 'pass --head-spec');
    }
    const branches = members.map((ci) => headBranch(region.convs[ci]!, shapes));
    const convs: HeadConv[] = members.map((ci, mi) => {
      const node = region.convs[ci]!;
      const C = convShapes[ci]![1]!;
      const branch = branches[mi]!;
      return {
        node,
        channels: C,
        valuesPerAnchor: C / a,
        layout: perConv[ci]!.step === 1 ? 'anchor-major' : 'value-major',
        groups: perConv[ci]!.groups.sort((x, y) => x.offset - y.offset),
        feeders: branch.feeders,
      };
    });
    const headNodes = [...new Set(members.flatMap((ci, mi) => [region.convs[ci]!, ...branches[mi]!.nodes]))].filter((n) => n.opType === 'Conv');
    const headMacs = headNodes.reduce((s, n) => s + (nodeMacs(n, shapes) ?? 0), 0);
    const level: LevelSpec = {
      index: li,
      featureMap: [H, W],
      stride: [inputShape[3]! / W, inputShape[2]! / H],
      anchorsPerLocation: a,
      anchorOffset: offset,
      boxes: H * W * a,
      convs,
      headNodes,
      headMacs,
      feature: branches[0]!.feature,
    };
    offset += level.boxes;
    return level;
  });

  const outputs: OutputBinding[] = reads.map((r) => {
    const ops = opsOf.get(r)!;
    if (r.kind === 'rows') {
      const role = outRoles[rowsOuts.indexOf(r)]!;
      return { name: r.value.name, kind: 'rows', role, valuesPerRow: r.valuesPerRow, ops };
    }
    const ci = r.conv;
    const li = keys.indexOf(levelKey(ci));
    const g = perConv[ci]!.groups[0];
    return { name: r.value.name, kind: 'map', role: g?.role ?? 'extra', valuesPerRow: convShapes[ci]![1]! / perConv[ci]!.a, level: li, ops };
  });
  const scoresOut = outputs.find((o) => o.role === 'scores');
  if (!scoresOut || !outputs.some((o) => o.role === 'boxes')) {
    throw new PrunedetError('E_HEAD_AMBIGUOUS', `found head convs but could not tell scores from boxes among outputs ${outputs.map((o) => `${o.name} (K=${o.valuesPerRow})`).join(', ')}`, 'pass --head-spec naming the score and box convs');
  }
  const activation = scoresOut.ops.includes('Softmax') || scoresOut.ops.includes('LogSoftmax') ? 'softmax' : scoresOut.ops.includes('Sigmoid') ? 'sigmoid' : 'none';
  const boxesOut = outputs.find((o) => o.role === 'boxes')!;
  const decoded = boxesOut.ops.includes('Exp');
  const postprocessInGraph = [...(activation === 'none' ? [] : [activation]), ...(decoded ? ['decode'] : [])];
  const spec: DetectorSpec = {
    input: { name: input.name, shape: inputShape },
    imageSize: [inputShape[2]!, inputShape[3]!],
    levels,
    classes: scoresOut.valuesPerRow,
    scoreActivation: activation,
    postprocessInGraph,
    outputs,
    boxes: offset,
    headMacs: levels.reduce((s, l) => s + l.headMacs, 0),
    source: opts.headSpec ? 'head-spec' : 'analysis',
  };
  if (decoded) spec.anchorTable = recoverAnchorTable(live.find((o) => o.name === boxesOut.name)!, region, shapes, spec.boxes);
  return spec;
}

/**
 * Levels whose convs only reach raw per-level outputs have no rows to count anchors on: the box conv (K = 4) fixes
 * A = C/4 and every other conv of the level must split into A blocks; the class conv must give the same K on every
 * level. Among the candidates, the assignment consistent across levels wins.
 */
function inferMapAnchors(keys: string[], levelMembers: number[][], convShapes: number[][], perConv: { a: number; groups: HeadGroup[] }[], nameOf: (ci: number) => string): void {
  const unknown = levelMembers.flatMap((members, li) => (members.some((ci) => perConv[ci]!.a === 0) ? [{ key: keys[li]!, members }] : []));
  if (!unknown.length) return;
  const options = unknown.map(({ key, members }) => {
    const known = members.find((ci) => perConv[ci]!.a > 0);
    const cands = known !== undefined ? [perConv[known]!.a] : members.filter((ci) => convShapes[ci]![1]! % 4 === 0).map((ci) => convShapes[ci]![1]! / 4);
    const valid = [...new Set(cands)].filter((a) => members.every((ci) => convShapes[ci]![1]! % a === 0));
    return { key, members, valid };
  });
  // The class conv's K must match across levels: pick the A per level giving the most common largest-K.
  const kOf = (members: number[], a: number) => Math.max(...members.map((ci) => convShapes[ci]![1]! / a));
  const votes = new Map<number, number>();
  for (const o of options) for (const a of o.valid) votes.set(kOf(o.members, a), (votes.get(kOf(o.members, a)) ?? 0) + 1);
  const bestK = [...votes.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0]?.[0];
  options.forEach((o) => {
    const a = o.valid.find((x) => kOf(o.members, x) === bestK) ?? (o.valid.length === 1 ? o.valid[0] : undefined);
    if (a === undefined) {
      throw new PrunedetError('E_HEAD_AMBIGUOUS', `cannot tell anchors per location of the ${o.key} level from its raw outputs (conv channels ${o.members.map((ci) => convShapes[ci]![1]).join(', ')})`, 'pass --head-spec with "anchors" per level');
    }
    for (const ci of o.members) {
      if (perConv[ci]!.a) continue;
      perConv[ci]!.a = a;
      const K = convShapes[ci]![1]! / a;
      const role: GroupRole = K === 4 ? 'boxes' : K === bestK ? 'scores' : K === 10 ? 'landmarks' : K === 1 ? 'objectness' : (roleFromName(nameOf(ci)) ?? 'extra');
      perConv[ci]!.groups = [{ role, offset: 0, size: K, outputs: [] }];
    }
  });
}
