// The compiled model.onnx says who made it and from what: producer prunedet + version, metadata_props with the
// config and the source's sha256, the source's own metadata kept.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { decodeMessage } from '../../src/onnx/codec';
import { compileTemp, saveTemp } from '../_support/compile';
import { sha256 } from '../_support/cli';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function header(path: string): { producer: unknown; version: unknown; meta: Record<string, string> } {
  const m = decodeMessage('onnx.ModelProto', readFileSync(path));
  const meta = Object.fromEntries(
    ((m.metadata_props as { key: string; value: string }[] | undefined) ?? []).map((e) => [e.key, e.value]),
  );
  return { producer: m.producer_name, version: m.producer_version, meta };
}

describe('compiled model provenance', () => {
  it("producer prunedet + package version; the configuration (kept and removed anchors) and source sha256 in metadata_props; the source's metadata kept", async () => {
    const model = buildFixture('ssd300', { outputs: 'concat' });
    model.extra.producer_name = 'pytorch';
    model.extra.producer_version = '2.3.0';
    model.extra.metadata_props = [
      { key: 'labels', value: 'face' },
      { key: 'prunedet.config', value: 'stale' },
    ];
    const src = saveTemp(model, 'ssd.onnx');
    const { outDir, report } = await compileTemp(src, { config: 'configs/ssd300/config_a.py' });
    const h = header(join(outDir, 'model.onnx'));
    expect(h.producer).toBe('prunedet');
    expect(h.version).toBe(pkg.version);
    expect(h.meta['prunedet.source_sha256']).toBe(sha256(src));
    expect(h.meta['prunedet.source']).toBe('ssd.onnx');
    expect(h.meta['prunedet.source_producer']).toBe('pytorch 2.3.0');
    const config = JSON.parse(h.meta['prunedet.config']!);
    expect(config.removed).toEqual([5, 7, 13, 16, 17, 19, 22, 25, 26, 27, 28]);
    expect(config.kept).toEqual(report.config.kept);
    expect(h.meta['prunedet.passes']).toBe(report.passes.map((p) => p.pass).join(','));
    expect(h.meta.labels).toBe('face');
    // the source's stale prunedet.config is replaced, not duplicated
    const m = decodeMessage('onnx.ModelProto', readFileSync(join(outDir, 'model.onnx')));
    expect((m.metadata_props as { key: string }[]).filter((e) => e.key === 'prunedet.config').length).toBe(1);
  });
});
