// The explicit override when analysis cannot decide. A small JSON naming the roles of the outputs, or per level the
// head convs of each group and the anchors per location, or both:
//   { "outputs": { "loc": "boxes+landmarks", "conf": "scores", "iou": "objectness" } }
//   { "levels": [ { "anchors": 4, "convs": { "scores": "<conv node or output name>", "boxes": "...", "landmarks": "..." } }, ... ] }
// Levels are listed finest first (level 0 first); conv names are node names or their output value names; output
// names are those `prunedet inspect` lists (graph outputs, or the head tensors a full export's NMS reads).
import { existsSync } from 'node:fs';
import type { Node } from '../ir/graph';
import { PrunedetError } from '../errors';
import { readInputFile } from '../fs';
import { LIMITS } from '../limits';
import { levelName } from '../format/levels';
import { OUTPUT_ROLES } from './roles';
import type { GroupRole } from './spec';

export interface HeadSpecFile {
  levels?: { anchors: number; convs?: Partial<Record<GroupRole, string>> }[];
  /** Role of each named output (one of OUTPUT_ROLES). */
  outputs?: Record<string, string>;
  /** Where it came from, for messages. */
  file: string;
}

const ROLES: GroupRole[] = ['scores', 'boxes', 'landmarks', 'objectness', 'extra'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : `a ${typeof v}`);

export function loadHeadSpec(path: string): HeadSpecFile {
  if (!existsSync(path))
    throw new PrunedetError('E_FILE_NOT_FOUND', `head spec ${path} does not exist`, 'check the --head-spec path');
  const text = readInputFile(
    path,
    'E_HEAD_SPEC',
    `head spec ${path}`,
    'a head spec is a small JSON file; pass the right one',
    LIMITS.configBytes,
  ).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new PrunedetError(
      'E_HEAD_SPEC',
      `head spec ${path} is not valid JSON (${(e as Error).message})`,
      'fix the JSON syntax',
    );
  }
  const usage =
    'write { "outputs": { "<output>": "scores" | "boxes" | ... } } or { "levels": [ { "anchors": A, "convs": { "scores": "...", "boxes": "..." } } ] }';
  if (!isObject(raw))
    throw new PrunedetError('E_HEAD_SPEC', `head spec ${path} holds ${kindOf(raw)}, not an object`, usage);
  const { levels, outputs } = raw as { levels?: unknown; outputs?: unknown };
  if (levels === undefined && outputs === undefined)
    throw new PrunedetError('E_HEAD_SPEC', `head spec ${path} has neither "outputs" nor "levels"`, usage);
  if (outputs !== undefined) {
    if (!outputs || typeof outputs !== 'object' || Array.isArray(outputs) || !Object.keys(outputs).length)
      throw new PrunedetError('E_HEAD_SPEC', `head spec ${path}: "outputs" must map output names to roles`, usage);
    for (const [name, role] of Object.entries(outputs)) {
      if (typeof role !== 'string' || !(OUTPUT_ROLES as readonly string[]).includes(role)) {
        throw new PrunedetError(
          'E_HEAD_SPEC',
          `head spec ${path} gives output "${name}" the role ${JSON.stringify(role)}`,
          `use one of ${OUTPUT_ROLES.join(', ')}`,
        );
      }
    }
  }
  if (levels !== undefined) {
    if (!Array.isArray(levels) || levels.length === 0)
      throw new PrunedetError('E_HEAD_SPEC', `head spec ${path}: "levels" must be a non-empty list`, usage);
    levels.forEach((l: { anchors?: unknown; convs?: Record<string, unknown> }, i) => {
      if (!isObject(l))
        throw new PrunedetError(
          'E_HEAD_SPEC',
          `head spec ${path} ${levelName(i)} holds ${kindOf(l)}, not an object`,
          usage,
        );
      if (!Number.isInteger(l.anchors) || (l.anchors as number) < 1) {
        throw new PrunedetError(
          'E_HEAD_SPEC',
          `head spec ${path} ${levelName(i)} needs a positive integer "anchors"`,
          'give the anchors per location of every level',
        );
      }
      if (l.convs === undefined) return;
      if (!l.convs || typeof l.convs !== 'object')
        throw new PrunedetError(
          'E_HEAD_SPEC',
          `head spec ${path} ${levelName(i)}: "convs" must map roles to conv names`,
          usage,
        );
      for (const [role, name] of Object.entries(l.convs)) {
        if (!ROLES.includes(role as GroupRole) || typeof name !== 'string') {
          throw new PrunedetError(
            'E_HEAD_SPEC',
            `head spec ${path} ${levelName(i)} has an invalid entry "${role}"`,
            `use roles ${ROLES.join(', ')} with conv names as strings`,
          );
        }
      }
    });
  }
  return {
    ...(levels ? { levels: levels as NonNullable<HeadSpecFile['levels']> } : {}),
    ...(outputs ? { outputs: outputs as Record<string, string> } : {}),
    file: path,
  };
}

/** Impose the spec's anchors per level on the analysis (and check the convs it names). */
export function applyHeadSpec(
  spec: HeadSpecFile,
  convs: Node[],
  convShapes: number[][],
  levelMembers: number[][],
  perConv: { a: number }[],
): void {
  const levels = spec.levels ?? [];
  const find = (name: string) => convs.findIndex((c) => c.name === name || c.output().name === name);
  const known = convs.map((c) => c.name || c.output().name).join(', ');
  levels.forEach((l, li) => {
    for (const [, name] of Object.entries(l.convs ?? {}) as [GroupRole, string][]) {
      const ci = find(name);
      if (ci < 0) {
        throw new PrunedetError(
          'E_HEAD_SPEC',
          `head spec ${spec.file} ${levelName(li)} names conv "${name}", which is not one of the head convs found (${known})`,
          'use node names or output names from `prunedet inspect --json`',
        );
      }
      if (!levelMembers[li]?.includes(ci)) {
        throw new PrunedetError(
          'E_HEAD_SPEC',
          `head spec ${spec.file} puts conv "${name}" on ${levelName(li)}, but its feature map belongs to another level`,
          'list levels finest first',
        );
      }
    }
  });
  if (levels.length !== levelMembers.length) {
    throw new PrunedetError(
      'E_HEAD_SPEC',
      `head spec ${spec.file} lists ${levels.length} levels, the model has ${levelMembers.length}`,
      'list one entry per level, finest first',
    );
  }
  levels.forEach((l, li) => {
    for (const ci of levelMembers[li]!) {
      const C = convShapes[ci]![1]!;
      if (C % l.anchors !== 0) {
        throw new PrunedetError(
          'E_HEAD_SPEC',
          `head spec ${spec.file} ${levelName(li)}: conv ${convs[ci]!.name || convs[ci]!.output().name} has ${C} channels, not a multiple of ${l.anchors} anchors`,
          'check "anchors"',
        );
      }
      if (perConv[ci]!.a && perConv[ci]!.a !== l.anchors) {
        throw new PrunedetError(
          'E_HEAD_SPEC',
          `head spec ${spec.file} ${levelName(li)} gives ${l.anchors} anchors per location, but the outputs read ${perConv[ci]!.a} from ${convs[ci]!.label()}`,
          'check "anchors"',
        );
      }
      perConv[ci]!.a = l.anchors;
    }
  });
}
