// The project's .npmrc keeps dependency install scripts off (onnxruntime-node's postinstall downloads GPU binaries
// from NuGet and fails offline) with a setting npm knows: no "Unknown project config" warning on every npm/npx call.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');

describe('.npmrc', () => {
  it('sets ignore-scripts and nothing npm warns about', () => {
    const r = spawnSync('npm', ['config', 'get', 'ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('true');
    expect(r.stderr).not.toMatch(/Unknown project config/);
  });
});
