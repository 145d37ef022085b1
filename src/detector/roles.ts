// What each head output holds (scores, boxes, landmarks, objectness), decided from evidence and said with it: an
// activation applied in the graph, decoding against constants (Exp), the output's name (loc, conf, cls, bbox, landm,
// iou, obj, ...), its values per anchor K (4; 4 + 2k = box + k landmark points; 1), and what the other outputs of the
// same levels hold. Pruning never needs roles (every per-anchor value goes with its anchor); post-processing, the
// oracle and C emission do, and ask for a --head-spec naming the outputs in question when the evidence runs out.
import type { GroupRole } from './spec';

export interface RoleColumn {
  role: GroupRole;
  /** First column of the group within the output's K values. */
  offset: number;
  size: number;
}

export interface OutputRole {
  /** The first column's role (boxes for a box + landmark output). */
  role: GroupRole;
  columns: RoleColumn[];
  /** How it was decided, in words, strongest first. */
  evidence: string[];
}

export interface RoleInput {
  name: string;
  /** Values per anchor. */
  k: number;
  /** Op types on the path from the head convs to this output. */
  ops: string[];
  /** Levels whose anchors the output carries. */
  levels: number[];
  /** Rows list the anchors (a, y, x), as YOLO exports write them. */
  anchorMajorRows?: boolean;
  /** Imposed by --head-spec. */
  given?: string;
}

export interface RoleResult {
  roles: OutputRole[];
  /** Why post-processing cannot use the outputs (scores or boxes not found), naming them; undefined when complete. */
  missing?: string;
}

/** Roles a --head-spec may give an output: one role, or boxes followed by landmarks. */
export const OUTPUT_ROLES = ['scores', 'boxes', 'landmarks', 'objectness', 'extra', 'boxes+landmarks'] as const;

const ACTIVATIONS = ['Softmax', 'LogSoftmax', 'Sigmoid'];

type Claim = { role: GroupRole | 'boxes+landmarks' | 'yolo'; strength: number; why: string };

export function roleFromName(name: string): GroupRole | undefined {
  const n = name.toLowerCase();
  if (/landm|kps|keypoint|lmk|ldm|landmark/.test(n)) return 'landmarks';
  if (/iou|obj|quality|centerness|ctrness/.test(n)) return 'objectness';
  if (/score|cls|conf|logit|prob|class/.test(n)) return 'scores';
  if (/box|loc|reg|bbox|delta|coord/.test(n)) return 'boxes';
  return undefined;
}

/** K = 4 + 2k with k >= 1 landmark points: a box followed by landmarks. */
const boxPlusLandmarks = (k: number) => k > 4 && (k - 4) % 2 === 0;

function columnsOf(role: Claim['role'], k: number): RoleColumn[] {
  if (role === 'yolo')
    return [
      { role: 'boxes', offset: 0, size: 4 },
      { role: 'objectness', offset: 4, size: 1 },
      { role: 'scores', offset: 5, size: k - 5 },
    ];
  if (role === 'boxes+landmarks')
    return [
      { role: 'boxes', offset: 0, size: 4 },
      { role: 'landmarks', offset: 4, size: k - 4 },
    ];
  return [{ role, offset: 0, size: k }];
}

/** The claim an output makes on its own (before looking at the other outputs of its levels). */
function ownClaim(o: RoleInput): Claim | undefined {
  if (o.given) return { role: o.given as Claim['role'], strength: 9, why: 'named in --head-spec' };
  const byName = roleFromName(o.name);
  const act = ACTIVATIONS.find((a) => o.ops.includes(a));
  if (byName === 'objectness' && o.k === 1) return { role: 'objectness', strength: 2, why: `name "${o.name}"` };
  if (act) return { role: 'scores', strength: 3, why: `${act} applied in the graph` };
  if (o.ops.includes('Exp')) {
    if (o.k === 4)
      return { role: 'boxes', strength: 3, why: 'Exp of deltas against constants in the graph: decoded boxes' };
    if (boxPlusLandmarks(o.k))
      return {
        role: 'boxes+landmarks',
        strength: 3,
        why: `decoded in the graph (Exp); K = ${o.k} = 4 box + ${o.k - 4} landmark values`,
      };
  }
  if (byName === 'boxes' && o.k === 4) return { role: 'boxes', strength: 2, why: `name "${o.name}", K = 4` };
  if (byName === 'boxes' && boxPlusLandmarks(o.k))
    return {
      role: 'boxes+landmarks',
      strength: 2,
      why: `name "${o.name}", K = ${o.k} = 4 box + ${o.k - 4} landmark values`,
    };
  if (byName === 'landmarks' && o.k % 2 === 0)
    return { role: 'landmarks', strength: 2, why: `name "${o.name}", K = ${o.k} = ${o.k / 2} points` };
  if (byName === 'scores') return { role: 'scores', strength: 2, why: `name "${o.name}"` };
  if (byName === 'objectness') return { role: 'objectness', strength: 2, why: `name "${o.name}"` };
  if (o.k === 4) return { role: 'boxes', strength: 1, why: 'K = 4' };
  return undefined;
}

const covers = (o: RoleInput, level: number) => o.levels.includes(level);
const hasRole = (c: Claim | undefined, r: GroupRole) =>
  c !== undefined &&
  (c.role === r ||
    (r === 'boxes' && c.role === 'boxes+landmarks') ||
    (c.role === 'yolo' && (r === 'boxes' || r === 'scores' || r === 'objectness')));

/**
 * Roles of every output. Each level needs exactly one scores and one boxes group among the outputs carrying it; the
 * strongest claim wins, K fills gaps (4 + 2k: box + landmarks; 1: objectness next to scores, else a one-class score;
 * the widest output left: scores), and a tie or a gap is reported in `missing`.
 */
export function inferRoles(outs: RoleInput[]): RoleResult {
  const claims = outs.map(ownClaim);
  const levels = [...new Set(outs.flatMap((o) => o.levels))].sort((a, b) => a - b);
  // YOLO heads: one output per level holding every value of an anchor, rows listed (a, y, x)
  outs.forEach((o, i) => {
    const alone = o.levels.every((l) => outs.every((p, j) => j === i || !covers(p, l)));
    // a decoded export activates every column in the graph (Sigmoid) and decodes xywh with arithmetic: still YOLO rows
    const activated = claims[i]?.role === 'scores' && ACTIVATIONS.some((a) => o.ops.includes(a));
    const decoded = activated && ['Mul', 'Add', 'Pow', 'Exp'].some((op) => o.ops.includes(op));
    if ((!claims[i] || decoded) && o.anchorMajorRows && alone && o.k > 5)
      claims[i] = {
        role: 'yolo',
        strength: decoded ? 3 : 1,
        why: `the only output of its levels, rows traced as (a, y, x) through Reshape/Transpose (the YOLO layout), K = ${o.k} = 4 box (x, y, w, h) + 1 objectness + ${o.k - 5} class values${decoded ? `; decoded in the graph (${o.ops.filter((op) => ['Sigmoid', 'Mul', 'Add', 'Pow', 'Exp'].includes(op)).join(', ')})` : ''}`,
      };
  });
  const problems: string[] = [];
  const label = (i: number) => `${outs[i]!.name} (K=${outs[i]!.k})`;
  const resolve = (role: 'scores' | 'boxes', fill: (level: number, free: number[]) => void) => {
    for (const l of levels) {
      const at = outs.map((_, i) => i).filter((i) => covers(outs[i]!, l));
      let holders = at.filter((i) => hasRole(claims[i], role));
      if (holders.length > 1) {
        const best = Math.max(...holders.map((i) => claims[i]!.strength));
        const top = holders.filter((i) => claims[i]!.strength === best);
        if (top.length > 1) {
          problems.push(`${top.map(label).join(' and ')} both look like ${role}`);
          continue;
        }
        for (const i of holders)
          if (i !== top[0])
            claims[i] =
              role === 'boxes' && outs[i]!.k % 2 === 0
                ? { role: 'landmarks', strength: 1, why: `K = ${outs[i]!.k}, next to the boxes of ${label(top[0]!)}` }
                : undefined;
        holders = top;
      }
      if (holders.length === 0)
        fill(
          l,
          at.filter((i) => claims[i] === undefined || claims[i]!.strength <= 1),
        );
    }
  };
  resolve('boxes', (_l, free) => {
    const cands = free.filter((i) => boxPlusLandmarks(outs[i]!.k) && !hasRole(claims[i], 'scores'));
    if (cands.length === 1)
      claims[cands[0]!] = {
        role: 'boxes+landmarks',
        strength: 1,
        why: `K = ${outs[cands[0]!]!.k} = 4 box + ${outs[cands[0]!]!.k - 4} landmark values (no other box output)`,
      };
  });
  resolve('scores', (_l, free) => {
    const left = free.filter((i) => claims[i] === undefined);
    const ones = left.filter((i) => outs[i]!.k === 1);
    const pick = left.length === 1 ? left[0] : ones.length === 1 && left.length === ones.length ? ones[0] : undefined;
    if (pick !== undefined) {
      const k = outs[pick]!.k;
      claims[pick] = {
        role: 'scores',
        strength: 0,
        why:
          k === 1
            ? 'K = 1: a one-class score (the only output left for scores)'
            : `K = ${k}: the only output left for scores`,
      };
    }
  });
  // what is left: K = 1 next to scores is an objectness / quality score, even K next to boxes are landmarks
  outs.forEach((o, i) => {
    if (claims[i]) return;
    if (o.k === 1) claims[i] = { role: 'objectness', strength: 1, why: 'K = 1, next to the scores of its levels' };
    else if (
      o.k % 2 === 0 &&
      o.levels.every((l) => outs.some((p, j) => j !== i && covers(p, l) && hasRole(claims[j], 'boxes')))
    ) {
      claims[i] = {
        role: 'landmarks',
        strength: 1,
        why: `K = ${o.k} = ${o.k / 2} points, next to the boxes of its levels`,
      };
    }
  });
  for (const role of ['scores', 'boxes'] as const) {
    const lacking = levels.filter((l) => !outs.some((o, i) => covers(o, l) && hasRole(claims[i], role)));
    if (lacking.length) {
      const at = outs.filter((o) => lacking.some((l) => covers(o, l)));
      problems.push(
        `no output of ${lacking.length === levels.length ? 'the head' : `levels ${lacking.join(', ')}`} could be told to hold ${role} among ${at.map((o) => `${o.name} (K=${o.k})`).join(', ')}`,
      );
    }
  }
  const roles = outs.map((o, i): OutputRole => {
    const c = claims[i];
    if (!c)
      return {
        role: 'extra',
        columns: [{ role: 'extra', offset: 0, size: o.k }],
        evidence: [`K = ${o.k}: no evidence of a role`],
      };
    const columns = columnsOf(c.role, o.k);
    return { role: columns[0]!.role, columns, evidence: [c.why] };
  });
  return { roles, ...(problems.length ? { missing: [...new Set(problems)].join('; ') } : {}) };
}
