// The explicit override when analysis cannot decide: a small JSON naming, per level, the head convs of each group
// and the anchors per location. Format:
//   { "levels": [ { "anchors": 4, "convs": { "scores": "<conv node or output name>", "boxes": "...", "landmarks": "..." } }, ... ] }
// Levels are listed finest first; conv names are node names or their output value names.
import { existsSync } from 'node:fs';
import type { Node } from '../ir/graph';
import { PrunedetError } from '../errors';
import { readInputFile } from '../fs';
import { LIMITS } from '../limits';
import type { GroupRole, HeadGroup } from './spec';

export interface HeadSpecFile {
  levels: { anchors: number; convs: Partial<Record<GroupRole, string>> }[];
  /** Where it came from, for messages. */
  file: string;
}

const ROLES: GroupRole[] = ['scores', 'boxes', 'landmarks', 'objectness', 'extra'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function loadHeadSpec(path: string): HeadSpecFile {
  if (!existsSync(path)) throw new PrunedetError('E_FILE_NOT_FOUND', `head spec ${path} does not exist`, 'check the --head-spec path');
  const text = readInputFile(path, 'E_HEAD_SPEC', `head spec ${path}`, 'a head spec is a small JSON file; pass the right one', LIMITS.configBytes).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new PrunedetError('E_HEAD_SPEC', `head spec ${path} is not valid JSON (${(e as Error).message})`, 'fix the JSON syntax');
  }
  const levels = isObject(raw) ? raw.levels : undefined;
  if (!Array.isArray(levels) || levels.length === 0) {
    throw new PrunedetError('E_HEAD_SPEC', `head spec ${path} has no "levels" list${isObject(raw) ? '' : ` (it holds ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : `a ${typeof raw}`}, not an object)`}`, 'write { "levels": [ { "anchors": A, "convs": { "scores": "...", "boxes": "..." } } ] }');
  }
  levels.forEach((l: { anchors?: unknown; convs?: Record<string, unknown> }, i) => {
    if (!isObject(l)) throw new PrunedetError('E_HEAD_SPEC', `head spec ${path} level ${i} is not an object`, 'write each level as { "anchors": A, "convs": { ... } }');
    if (!Number.isInteger(l.anchors) || (l.anchors as number) < 1) {
      throw new PrunedetError('E_HEAD_SPEC', `head spec ${path} level ${i} needs a positive integer "anchors"`, 'give the anchors per location of every level');
    }
    if (!isObject(l.convs) || !Object.keys(l.convs).length) {
      throw new PrunedetError('E_HEAD_SPEC', `head spec ${path} level ${i} names no convs`, 'give "convs": { "scores": "...", "boxes": "..." }');
    }
    for (const [role, name] of Object.entries(l.convs)) {
      if (!ROLES.includes(role as GroupRole) || typeof name !== 'string') {
        throw new PrunedetError('E_HEAD_SPEC', `head spec ${path} level ${i} has an invalid entry "${role}"`, `use roles ${ROLES.join(', ')} with conv names as strings`);
      }
    }
  });
  return { levels: levels as HeadSpecFile['levels'], file: path };
}

/** Impose the spec on the analysis: anchors per level and one group per named conv. */
export function applyHeadSpec(
  spec: HeadSpecFile,
  convs: Node[],
  convShapes: number[][],
  levelMembers: number[][],
  perConv: { a: number; groups: HeadGroup[] }[],
): void {
  const find = (name: string) => convs.findIndex((c) => c.name === name || c.output().name === name);
  const known = convs.map((c) => c.name || c.output().name).join(', ');
  spec.levels.forEach((l, li) => {
    for (const [role, name] of Object.entries(l.convs) as [GroupRole, string][]) {
      const ci = find(name);
      if (ci < 0) {
        throw new PrunedetError('E_HEAD_SPEC', `head spec ${spec.file} level ${li} names conv "${name}", which is not one of the head convs found (${known})`, 'use node names or output names from `prunedet inspect --json`');
      }
      if (!levelMembers[li]?.includes(ci)) {
        throw new PrunedetError('E_HEAD_SPEC', `head spec ${spec.file} puts conv "${name}" on level ${li}, but its feature map belongs to another level`, 'list levels finest first');
      }
      const C = convShapes[ci]![1]!;
      if (C % l.anchors !== 0) {
        throw new PrunedetError('E_HEAD_SPEC', `head spec ${spec.file} level ${li}: conv "${name}" has ${C} channels, not a multiple of ${l.anchors} anchors`, 'check "anchors"');
      }
      perConv[ci]!.a = l.anchors;
      if (!perConv[ci]!.groups.length) perConv[ci]!.groups = [{ role, offset: 0, size: C / l.anchors, outputs: [] }];
      else perConv[ci]!.groups.forEach((g) => (g.role = g.offset === 0 ? role : g.role));
    }
  });
  if (spec.levels.length !== levelMembers.length) {
    throw new PrunedetError('E_HEAD_SPEC', `head spec ${spec.file} lists ${spec.levels.length} levels, the model has ${levelMembers.length}`, 'list one entry per level, finest first');
  }
}
