// Detector analysis: from a model with no hints, the levels, head convs, per-anchor channel groups, anchors per
// location, how values reach the outputs, post-processing already in the graph, and the embedded anchor table.
// Method: walk back from the outputs through layout ops (and through in-graph NMS/top-k, which full exports end
// with) to the head convs (region.ts), trace element provenance through that region (layout-eval.ts), read anchors
// and values per row off the traced head tensors (rows.ts), then tell what each holds from evidence (roles.ts).
import { headQuantization } from '../quant/head';
import { isConvLike } from '../quant/ops';
import type { Graph, Model, Node, Value } from '../ir/graph';
import type { ShapeResult } from '../shape/infer';
import { isStatic } from '../shape/types';
import { nodeMacs } from '../cost/macs';
import { PrunedetError } from '../errors';
import { levelName } from '../format/levels';
import { analysisRuns, findRegion, traceRegion, provenanceConv, provenanceFlat, type Region } from './region';
import { readOutput, type OutputMap, type OutputRows } from './rows';
import { headBranch } from './head-chain';
import { anchorTableFromIndexed, recoverAnchorTable } from './anchor-table';
import { yoloAnchorGrid } from './yolo-anchors';
import { applyHeadSpec, type HeadSpecFile } from './head-spec';
import { inferRoles, type RoleInput } from './roles';
import { analyzePostRegion } from './post-region';
import type { Arr } from './layout-eval';
import type { DetectorSpec, GroupRole, HeadConv, HeadGroup, LevelSpec, OutputBinding } from './spec';

export interface AnalyzeOptions {
  headSpec?: HeadSpecFile;
  /** For messages: the model's file name. */
  label?: string;
}

/** Element types an image input may have. */
const IMAGE_TYPES = new Set([1, 2, 10, 11, 16]);

/** Op types on any path from the region's convs to `out` (`inRegion`: the region's nodes). */
export function opsOnPath(out: Value, inRegion: ReadonlySet<Node>): string[] {
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

/** The image input: a float (or uint8) graph input of rank 4 (N,C,H,W) or 3 (C,H,W, batched in the graph). */
function imageInput(graph: Graph, shapes: ShapeResult): Value | undefined {
  const cands = graph.inputs.filter((v) => !v.initializer && IMAGE_TYPES.has(shapes.get(v)?.dtype ?? 1));
  return cands.find((v) => shapes.shape(v)?.length === 4) ?? cands.find((v) => shapes.shape(v)?.length === 3);
}

/**
 * [H, W] of the image the backbone sees: the input's, unless the graph resizes it (torchvision's transform) or pads
 * the unbatched image (to a multiple of 32, before stacking the batch). A Pad of the batched tensor right before a
 * conv is the conv's own padding (BlazeFace's SAME padding) and leaves the size alone.
 */
function networkImageSize(input: Value, inputShape: number[], shapes: ShapeResult): [number, number] {
  let size: [number, number] = [inputShape[inputShape.length - 2]!, inputShape[inputShape.length - 1]!];
  let v = input;
  for (let step = 0; step < 256; step++) {
    const next = v.uses
      .map((u) => u.node)
      .find((n) => n.opType !== 'Shape' && n.opType !== 'Size' && n.outputs[0] && n.domain === '');
    if (!next || next.opType === 'Conv') break;
    const out = next.outputs[0]!;
    const s = shapes.shape(out);
    if (
      isStatic(s) &&
      s.length >= 3 &&
      (next.opType === 'Resize' || next.opType === 'Upsample' || (next.opType === 'Pad' && s.length === 3))
    ) {
      size = [s[s.length - 2]!, s[s.length - 1]!];
    }
    v = out;
  }
  return size;
}

type Read = OutputRows | OutputMap;

/**
 * The head tensors: each value the outputs or the in-graph post-processing read from the region, or, where that value
 * has no per-anchor rows (a flattened score vector before a threshold), the nearest values before it that have.
 */
function headTensors(region: Region, traced: Map<Value, Arr>, convShapes: number[][]): Read[] {
  const reads: Read[] = [];
  const seen = new Set<Value>();
  const inRegion = new Set(region.nodes);
  const visit = (v: Value, strict: boolean) => {
    if (seen.has(v)) return;
    seen.add(v);
    const arr = traced.get(v);
    if (!arr) return;
    try {
      reads.push(readOutput(v, arr, convShapes));
      return;
    } catch (e) {
      if (strict || !(e instanceof PrunedetError)) throw e;
    }
    const p = v.producer;
    if (!p || !inRegion.has(p)) return;
    for (const i of p.inputs) if (i && traced.has(i)) visit(i, false);
  };
  for (const e of region.exits) visit(e, e.isGraphOutput && region.post.length === 0);
  return reads;
}

/** Per head conv: anchors per location (0 until known), channel step between an anchor's values, groups found. */
type ConvAnchors = { a: number; step: number; groups: HeadGroup[] }[];
/** Where a head tensor's values start in an anchor's block of one conv. */
type Start = { read: Read; conv: number; offset: number };

/**
 * The detector analysis, in named steps: find the head (region from the outputs back to the head convs), trace it,
 * read the head tensors, count anchors per conv, group convs into levels, infer the tensors' roles, build the levels,
 * bind the outputs, recover the anchor table. The DetectorSpec keeps the region and trace (spec.head).
 */
export function analyzeDetector(model: Model, shapes: ShapeResult, opts: AnalyzeOptions = {}): DetectorSpec {
  analysisRuns.analyses++;
  const graph = model.graph;
  const { input, inputShape, region } = findHead(graph, shapes, opts.label ?? 'the model');
  const convShapes = region.convs.map((c) => shapes.requireStatic(c.output(), `head conv ${c.label()}`));
  const traced = traceRegion(region, shapes);
  const reads = headTensors(region, traced, convShapes);
  const rowsOuts = reads.filter((r): r is OutputRows => r.kind === 'rows');
  const { perConv, starts, anchorMajorReads } = countAnchors(reads, region, convShapes);
  const { keys, levelMembers } = groupLevels(rowsOuts, region, convShapes);
  if (opts.headSpec?.levels) applyHeadSpec(opts.headSpec, region.convs, convShapes, levelMembers, perConv);
  else inferMapAnchors(keys, levelMembers, convShapes, perConv);
  const levelOfConv = (ci: number) => keys.indexOf(convKey(convShapes, ci));
  const kOf = (r: Read) => (r.kind === 'rows' ? r.valuesPerRow : convShapes[r.conv]![1]! / perConv[r.conv]!.a);
  const levelsOf = (r: Read) =>
    [...new Set((r.kind === 'rows' ? r.convOrder : [r.conv]).map(levelOfConv))].sort((x, y) => x - y);
  const inRegion = new Set(region.nodes);
  const opsOf = new Map(reads.map((r) => [r, opsOnPath(r.value, inRegion)]));
  const inferred = assignRoles(
    reads,
    starts,
    perConv,
    region,
    { kOf, levelsOf, levelOfConv, opsOf, anchorMajorReads },
    opts.headSpec,
  );
  if (opts.headSpec?.levels) addHeadSpecConvGroups(opts.headSpec, region, convShapes, levelMembers, perConv);
  const imageSize = networkImageSize(input, inputShape, shapes);
  const levels = buildLevels(levelMembers, perConv, region, convShapes, shapes, imageSize);

  const outputs: OutputBinding[] = reads.map((r, i) => {
    const role = inferred.roles[i]!;
    const common = {
      name: r.value.name,
      role: role.role,
      columns: role.columns,
      evidence: role.evidence,
      valuesPerRow: kOf(r),
      levels: levelsOf(r),
      graphOutput: r.value.isGraphOutput,
      ops: opsOf.get(r)!,
    };
    if (r.kind === 'map') return { ...common, kind: 'map', level: levelOfConv(r.conv) };
    return { ...common, kind: 'rows', rowOrder: anchorMajorReads.has(r) ? 'anchor-major' : 'location-major' };
  });
  const scoresOut = outputs.find((o) => o.columns.some((c) => c.role === 'scores'));
  const boxesOut = outputs.find((o) => o.columns.some((c) => c.role === 'boxes'));
  const activation = !scoresOut
    ? 'none'
    : scoresOut.ops.includes('Softmax') || scoresOut.ops.includes('LogSoftmax')
      ? 'softmax'
      : scoresOut.ops.includes('Sigmoid')
        ? 'sigmoid'
        : 'none';
  const post = region.post.length ? analyzePostRegion(region, shapes, traced) : undefined;
  const decodedInRegion = boxesOut?.ops.includes('Exp') === true;
  const decoded = decodedInRegion || post?.ops.includes('Exp') === true;
  const postprocessInGraph = [
    ...(activation === 'none' ? [] : [activation]),
    ...(decoded ? ['decode'] : []),
    ...(post?.ops.includes('NonZero') ? ['score-filter'] : []),
    ...(post?.ops.includes('TopK') ? ['top-k'] : []),
    ...(post?.ops.includes('NonMaxSuppression') ? ['nms'] : []),
  ];
  const boxes = levels.reduce((sum, l) => sum + l.boxes, 0);
  const spec: DetectorSpec = {
    input: { name: input.name, shape: inputShape },
    imageSize,
    levels,
    classes: scoresOut?.columns.find((c) => c.role === 'scores')!.size ?? 0,
    scoreActivation: activation,
    postprocessInGraph,
    outputs,
    boxes,
    headMacs: levels.reduce((sum, l) => sum + l.headMacs, 0),
    source: opts.headSpec ? 'head-spec' : 'analysis',
    roles: inferred.missing ? { complete: false, missing: inferred.missing } : { complete: true },
    ...(post ? { postprocess: post } : {}),
    head: { region, trace: traced },
  };
  const quantization = headQuantization(
    region.convs,
    outputs.map((o) => graph.values.get(o.name)!).filter((v) => v?.isGraphOutput),
    (v) => (v ? shapes.get(v)?.dtype : undefined),
  );
  if (quantization) spec.quantization = quantization;
  if (decodedInRegion && boxesOut)
    spec.anchorTable = recoverAnchorTable(graph.values.get(boxesOut.name)!, region, shapes, spec.boxes);
  else if (post?.anchorIndexed.length)
    spec.anchorTable = anchorTableFromIndexed(post.anchorIndexed, region, traced, (code: number) =>
      anchorOfCode(code, spec, region, convShapes),
    );
  const yolo = outputs.some((o) => o.rowOrder === 'anchor-major') ? yoloAnchorGrid(graph.nodes, spec) : undefined;
  if (yolo) spec.yoloAnchors = yolo;
  return spec;
}

/** The image input and the head region, or the one-line error saying why this is not a detector prunedet can follow. */
function findHead(
  graph: Graph,
  shapes: ShapeResult,
  label: string,
): { input: Value; inputShape: number[]; region: Region } {
  const input = imageInput(graph, shapes);
  if (!input) {
    throw new PrunedetError(
      'E_NOT_DETECTOR',
      `no image input found in ${label} (no float graph input of rank 4 or 3)`,
      'prunedet works on detectors taking an image, N,C,H,W (or C,H,W with in-graph preprocessing)',
    );
  }
  const inputShape = shapes.requireStatic(input, 'detector analysis');
  const region = findRegion(graph, shapes);
  const blocked = region.boundaries.filter((b) => b.kind === 'other');
  // An op prunedet cannot follow with head convs behind it: name it rather than "no head".
  const behind = blocked.find(
    (b) =>
      b.node &&
      findRegion(
        graph,
        shapes,
        b.node.inputs.filter((v): v is Value => v !== undefined),
        region.statics,
      ).convs.length > 0,
  );
  const blocker = (behind ?? blocked[0])?.node;
  if (blocker && (region.convs.length > 0 || behind)) {
    throw new PrunedetError(
      'E_OP_UNSUPPORTED',
      `the outputs of ${label} pass through ${blocker.label()} after the head convs, which prunedet cannot follow (ops allowed there: layout, activations, decode arithmetic, score filters, top-k, NMS)`,
      'simplify the model (onnx-simplifier) or pass --head-spec',
    );
  }
  if (region.convs.length === 0) {
    const considered = graph.outputs
      .map((o) => `${o.name} (from ${o.producer ? o.producer.label() : 'graph input'})`)
      .join(', ');
    const stops = region.boundaries.map((b) => (b.node ? b.node.label() : b.value.name)).join(', ');
    throw new PrunedetError(
      'E_NOT_DETECTOR',
      `no detection head found in ${label}: outputs ${considered} do not come from convolutions through layout ops (the walk stopped at ${stops || 'constants'})`,
      'prunedet prunes SSD/RetinaNet-style detectors; pass --head-spec to name the head convs of an unusual export',
    );
  }
  return { input, inputShape, region };
}

/** Anchors per location of each conv (from the rows outputs read it), and where each head tensor's values start in an anchor's block. */
function countAnchors(
  reads: Read[],
  region: Region,
  convShapes: number[][],
): { perConv: ConvAnchors; starts: Start[]; anchorMajorReads: Set<Read> } {
  const perConv: ConvAnchors = region.convs.map(() => ({ a: 0, step: 1, groups: [] }));
  const anchorMajorReads = new Set<Read>();
  const starts: Start[] = [];
  for (const r of reads) {
    if (r.kind === 'map') {
      starts.push({ read: r, conv: r.conv, offset: 0 });
      continue;
    }
    for (const [ci, info] of r.convs) {
      const pc = perConv[ci]!;
      const conv = region.convs[ci]!;
      // (y, x, a) rows, or (a, y, x) rows as YOLO exports write them (Reshape [B, A, K, H, W] -> Transpose)
      if (!info.locationMajor && info.channelMajor && info.rowsPerLocation > 1) anchorMajorReads.add(r);
      else if (!info.locationMajor) {
        throw new PrunedetError(
          'E_HEAD_AMBIGUOUS',
          `output ${r.value.name} does not list the anchors of ${conv.label()} location by location`,
          'pass --head-spec',
        );
      }
      if (pc.a && pc.a !== info.rowsPerLocation) {
        throw new PrunedetError(
          'E_HEAD_AMBIGUOUS',
          `outputs disagree on the anchors per location of ${conv.label()} (${pc.a} vs ${info.rowsPerLocation})`,
          'pass --head-spec',
        );
      }
      pc.a = info.rowsPerLocation;
      const C = convShapes[ci]![1]!;
      const K = C / pc.a;
      if (!Number.isInteger(K)) {
        throw new PrunedetError(
          'E_HEAD_AMBIGUOUS',
          `output ${r.value.name} reads ${pc.a} anchors per location from ${conv.label()}, whose ${C} channels do not split into ${pc.a} blocks`,
          'pass --head-spec',
        );
      }
      // A row's channels must stay inside one anchor's block: c = a*K + k (anchor-major) or c = k*A + a.
      const valueMajor = info.step > 1 && info.step === pc.a;
      const block = (c: number) => (valueMajor ? c % pc.a : Math.floor(c / K));
      for (let i = 0; i < info.rowMin.length; i++) {
        if (block(info.rowMin[i]!) !== block(info.rowMax[i]!)) {
          throw new PrunedetError(
            'E_HEAD_AMBIGUOUS',
            `output ${r.value.name} mixes channels of different anchors of ${conv.label()}`,
            'pass --head-spec',
          );
        }
      }
      if (info.step !== 0) pc.step = info.step;
      const c0 = info.firstChannels[0]!;
      starts.push({ read: r, conv: ci, offset: valueMajor ? Math.floor(c0 / pc.a) : c0 % K });
    }
  }
  // rows starts first, then the maps', as the roles are assigned in that order
  starts.sort((x, y) => Number(x.read.kind === 'map') - Number(y.read.kind === 'map'));
  return { perConv, starts, anchorMajorReads };
}

/** A conv's level key: its output H x W. */
const convKey = (convShapes: number[][], ci: number) => convShapes[ci]!.slice(2).join('x');

/** Levels: convs grouped by output H x W, ordered by where their rows start on the anchor axis (then larger maps first). */
function groupLevels(
  rowsOuts: OutputRows[],
  region: Region,
  convShapes: number[][],
): { keys: string[]; levelMembers: number[][] } {
  const keys: string[] = [];
  for (const r of rowsOuts)
    for (const ci of r.convOrder) if (!keys.includes(convKey(convShapes, ci))) keys.push(convKey(convShapes, ci));
  const area = (k: string) => k.split('x').reduce((p, q) => p * +q, 1);
  const rest = region.convs.map((_, ci) => convKey(convShapes, ci)).filter((k) => !keys.includes(k));
  rest.sort((x, y) => area(y) - area(x));
  keys.push(...new Set(rest));
  // Per level (as `keys`), its convs' indices, ascending.
  const levelMembers = keys.map((k) => region.convs.flatMap((_, ci) => (convKey(convShapes, ci) === k ? [ci] : [])));
  return { keys, levelMembers };
}

interface ReadFacts {
  kOf: (r: Read) => number;
  levelsOf: (r: Read) => number[];
  levelOfConv: (ci: number) => number;
  opsOf: Map<Read, string[]>;
  /** Rows outputs listing a level's anchors (a, y, x) rather than (y, x, a). */
  anchorMajorReads: ReadonlySet<Read>;
}

/** What each head tensor holds, from evidence (and --head-spec), recorded as groups on the convs it reads. */
function assignRoles(
  reads: Read[],
  starts: Start[],
  perConv: ConvAnchors,
  region: Region,
  f: ReadFacts,
  hs: HeadSpecFile | undefined,
): ReturnType<typeof inferRoles> {
  const roleInputs: RoleInput[] = reads.map((r) => {
    const byConv = (r.kind === 'rows' ? r.convOrder : [r.conv]).map((ci) =>
      givenByConv(hs, region.convs[ci]!, f.levelOfConv(ci)),
    );
    const given =
      hs?.outputs?.[r.value.name] ?? (byConv.every((g) => g !== undefined && g === byConv[0]) ? byConv[0] : undefined);
    return {
      name: r.value.name,
      k: f.kOf(r),
      ops: f.opsOf.get(r)!,
      levels: f.levelsOf(r),
      ...(f.anchorMajorReads.has(r) ? { anchorMajorRows: true } : {}),
      ...(given ? { given } : {}),
    };
  });
  const inferred = inferRoles(roleInputs);
  for (const st of starts) {
    const role = inferred.roles[reads.indexOf(st.read)]!;
    const name = st.read.value.name;
    for (const col of role.columns)
      perConv[st.conv]!.groups.push({
        role: col.role,
        offset: st.offset + col.offset,
        size: col.size,
        outputs: [name],
      });
  }
  return inferred;
}

/** Convs only a --head-spec by conv name describes (no output read them). */
function addHeadSpecConvGroups(
  hs: HeadSpecFile,
  region: Region,
  convShapes: number[][],
  levelMembers: number[][],
  perConv: ConvAnchors,
): void {
  hs.levels?.forEach((l, li) => {
    for (const [role, name] of Object.entries(l.convs ?? {}) as [GroupRole, string][]) {
      const ci = region.convs.findIndex((c) => c.name === name || c.output().name === name);
      if (ci >= 0 && levelMembers[li]?.includes(ci) && perConv[ci]!.groups.length === 0)
        perConv[ci]!.groups.push({ role, offset: 0, size: convShapes[ci]![1]! / l.anchors, outputs: [] });
    }
  });
}

/** The LevelSpecs: map, stride, anchors, offset on the anchor axis, convs with their groups and feeders, head MACs. */
function buildLevels(
  levelMembers: number[][],
  perConv: ConvAnchors,
  region: Region,
  convShapes: number[][],
  shapes: ShapeResult,
  imageSize: [number, number],
): LevelSpec[] {
  let offset = 0;
  return levelMembers.map((members, li) => {
    const [H, W] = convShapes[members[0]!]!.slice(2) as [number, number];
    const a = perConv[members[0]!]!.a;
    if (members.some((ci) => perConv[ci]!.a !== a)) {
      throw new PrunedetError(
        'E_HEAD_AMBIGUOUS',
        `the head convs of ${levelName(li)} (${H}x${W}) disagree on anchors per location (${members.map((ci) => `${region.convs[ci]!.label()}: ${perConv[ci]!.a}`).join(', ')})`,
        'pass --head-spec',
      );
    }
    const branches = members.map((ci) => headBranch(region.convs[ci]!, shapes));
    const convs: HeadConv[] = members.map((ci, mi) => {
      const C = convShapes[ci]![1]!;
      return {
        node: region.convs[ci]!,
        channels: C,
        valuesPerAnchor: C / a,
        layout: perConv[ci]!.step === 1 ? 'anchor-major' : 'value-major',
        groups: mergeGroups(perConv[ci]!.groups),
        feeders: branches[mi]!.feeders,
      };
    });
    const headNodes = [...new Set(members.flatMap((ci, mi) => [region.convs[ci]!, ...branches[mi]!.nodes]))].filter(
      (n) => isConvLike(n),
    );
    const level: LevelSpec = {
      index: li,
      featureMap: [H, W],
      stride: [imageSize[0] / H, imageSize[1] / W],
      anchorsPerLocation: a,
      anchorOffset: offset,
      boxes: H * W * a,
      convs,
      headNodes,
      headMacs: headNodes.reduce((sum, n) => sum + (nodeMacs(n, shapes) ?? 0), 0),
      feature: branches[0]!.feature,
    };
    offset += level.boxes;
    return level;
  });
}

/** The global anchor index of a provenance code (a head-conv element). */
function anchorOfCode(code: number, spec: DetectorSpec, region: Region, convShapes: number[][]): number | undefined {
  if (code < 0) return undefined;
  const ci = provenanceConv(code);
  const flat = provenanceFlat(code);
  const [, C, H, W] = convShapes[ci]!;
  const hw = H! * W!;
  const level = spec.levels.find((l) => l.convs.some((c) => c.node === region.convs[ci]));
  const conv = level?.convs.find((c) => c.node === region.convs[ci]);
  if (!level || !conv) return undefined;
  const ch = Math.floor(flat / hw) % C!;
  const loc = flat % hw;
  const a = conv.layout === 'anchor-major' ? Math.floor(ch / conv.valuesPerAnchor) : ch % level.anchorsPerLocation;
  return level.anchorOffset + loc * level.anchorsPerLocation + a;
}

/** Groups of one conv by offset; one output's group read again through another output keeps both names. */
function mergeGroups(groups: HeadGroup[]): HeadGroup[] {
  const out: HeadGroup[] = [];
  for (const g of [...groups].sort((x, y) => x.offset - y.offset)) {
    const same = out.find((o) => o.offset === g.offset && o.size === g.size && o.role === g.role);
    if (!same) out.push({ ...g, outputs: [...g.outputs] });
    else for (const n of g.outputs) if (!same.outputs.includes(n)) same.outputs.push(n);
  }
  return out;
}

/** The role a --head-spec gives a conv by name (levels form), for raw per-level outputs. */
function givenByConv(hs: HeadSpecFile | undefined, conv: Node, level: number): string | undefined {
  const convs = hs?.levels?.[level]?.convs;
  if (!convs) return undefined;
  return Object.entries(convs).find(([, name]) => name === conv.name || name === conv.output().name)?.[0];
}

/**
 * Levels whose convs only reach raw per-level outputs have no rows to count anchors on: the box conv (K = 4) fixes
 * A = C/4 and every other conv of the level must split into A blocks; the class conv must give the same K on every
 * level. Among the candidates, the assignment consistent across levels wins.
 */
function inferMapAnchors(
  keys: string[],
  levelMembers: number[][],
  convShapes: number[][],
  perConv: { a: number }[],
): void {
  const unknown = levelMembers.flatMap((members, li) =>
    members.some((ci) => perConv[ci]!.a === 0) ? [{ key: keys[li]!, li, members }] : [],
  );
  if (!unknown.length) return;
  const options = unknown.map(({ key, li, members }) => {
    const known = members.find((ci) => perConv[ci]!.a > 0);
    const cands =
      known !== undefined
        ? [perConv[known]!.a]
        : members.filter((ci) => convShapes[ci]![1]! % 4 === 0).map((ci) => convShapes[ci]![1]! / 4);
    const valid = [...new Set(cands)].filter((a) => members.every((ci) => convShapes[ci]![1]! % a === 0));
    return { key, li, members, valid };
  });
  // The class conv's K must match across levels: pick the A per level giving the most common largest-K.
  const kOf = (members: number[], a: number) => Math.max(...members.map((ci) => convShapes[ci]![1]! / a));
  const votes = new Map<number, number>();
  for (const o of options)
    for (const a of o.valid) votes.set(kOf(o.members, a), (votes.get(kOf(o.members, a)) ?? 0) + 1);
  const bestK = [...votes.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0]?.[0];
  options.forEach((o) => {
    const a = o.valid.find((x) => kOf(o.members, x) === bestK) ?? (o.valid.length === 1 ? o.valid[0] : undefined);
    if (a === undefined) {
      throw new PrunedetError(
        'E_HEAD_AMBIGUOUS',
        `cannot tell anchors per location of ${levelName(o.li)} (${o.key}) from its raw outputs (conv channels ${o.members.map((ci) => convShapes[ci]![1]).join(', ')})`,
        'pass --head-spec with "anchors" per level',
      );
    }
    for (const ci of o.members) if (!perConv[ci]!.a) perConv[ci]!.a = a;
  });
}
