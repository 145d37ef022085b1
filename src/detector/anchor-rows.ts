// One row per base anchor, in the numbering `--remove` takes (global, level-major): its level, its index inside the
// level, and its size in input pixels, for the user choosing what to remove. Sizes come from a table of every anchor
// in head order (the graph's own, or a generator's grid), read at the cell nearest the centre of the map so that no
// clipping to the image shrinks them, or from a generator's base anchors.
import type { AnchorSet } from '../anchors/types';
import type { DetectorSpec } from './spec';

export interface AnchorRow {
  /** Global base-anchor index, level-major: the number `--remove` takes. */
  index: number;
  level: number;
  /** Index inside the level (the position in a JSON config's "keep" list). */
  anchor: number;
  /** Width and height in input pixels, and ratio = h / w (the paper's convention); null when no source knows them. */
  w: number | null;
  h: number | null;
  ratio: number | null;
}

export type AnchorSizeSource =
  | { kind: 'table'; xyxy: Float32Array; normalized: boolean; source: string }
  | { kind: 'set'; set: AnchorSet; source: string }
  /** [w, h] per level and anchor (YOLO anchors: the graph's anchor_grid or a preset's standard anchors). */
  | { kind: 'sizes'; sizes: readonly (readonly (readonly [number, number])[])[]; source: string };

const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;

export function anchorRows(spec: DetectorSpec, from?: AnchorSizeSource): AnchorRow[] {
  const [H, W] = spec.imageSize;
  const rows: AnchorRow[] = [];
  let index = 0;
  spec.levels.forEach((l, li) => {
    const [mh, mw] = l.featureMap;
    const cell = Math.floor(mh / 2) * mw + Math.floor(mw / 2);
    for (let a = 0; a < l.anchorsPerLocation; a++, index++) {
      let w: number | undefined;
      let h: number | undefined;
      if (from?.kind === 'table') {
        const n = l.anchorOffset + cell * l.anchorsPerLocation + a;
        const r = from.xyxy.subarray(4 * n, 4 * n + 4);
        if (r.length === 4) {
          w = (r[2]! - r[0]!) * (from.normalized ? W : 1);
          h = (r[3]! - r[1]!) * (from.normalized ? H : 1);
        }
      } else if (from?.kind === 'sizes') {
        const s = from.sizes[li]?.[a];
        if (s) [w, h] = s;
      } else if (from?.kind === 'set') {
        const b = from.set.levels[li]?.base[a];
        if (b) {
          w = b.x2 - b.x1;
          h = b.y2 - b.y1;
        }
      }
      const known = w !== undefined && h !== undefined && w > 0;
      rows.push({
        index,
        level: li,
        anchor: a,
        w: known ? round(w!, 2) : null,
        h: known ? round(h!, 2) : null,
        ratio: known ? round(h! / w!, 4) : null,
      });
    }
  });
  return rows;
}
