// Locating ../shared (real models and photos); tests needing it skip with a logged reason when it is absent.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const SHARED = resolve(__dirname, '../../../shared');
export const hasShared = existsSync(join(SHARED, 'models'));
if (!hasShared)
  console.warn(`[prunedet tests] ${SHARED} is absent: tests on the real ultraface models and photos are skipped`);

export const ULTRAFACE = join(SHARED, 'models/ultraface');
export const FACES = join(SHARED, 'images/faces');

export function sharedModels(): string[] {
  if (!hasShared) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.onnx')) out.push(join(d, e.name));
    }
  };
  walk(join(SHARED, 'models'));
  return out.sort();
}

export function ultraface(name: string): string {
  return join(ULTRAFACE, name);
}
