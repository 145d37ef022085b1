import { describe, expect, it } from 'vitest';
import { checkDistinctStems, cNames, sanitizeStem } from '../../src/emit/c/names';

describe('C names', () => {
  it('sanitise the stem to [a-z0-9_]', () => {
    expect(sanitizeStem('SSD300')).toBe('ssd300');
    expect(sanitizeStem('ssd-300 (pruned A)')).toBe('ssd_300_pruned_a');
    expect(sanitizeStem('__Ultra.Face__')).toBe('ultra_face');
    expect(sanitizeStem('300ssd')).toBe('300ssd');
    expect(() => sanitizeStem('---')).toThrow(/module name "---" has no letters or digits/);
  });

  it('prefix every exported symbol pd_<stem>_ and every macro PD_<STEM>_', () => {
    const n = cNames('SSD-300');
    expect([n.run, n.workspaceSize, n.detection, n.status]).toEqual([
      'pd_ssd_300_run',
      'pd_ssd_300_workspace_size',
      'pd_ssd_300_detection_t',
      'pd_ssd_300_status_t',
    ]);
    expect([n.guard, n.ok, n.errArg, n.errWorkspace, n.workspaceMacro]).toEqual([
      'PD_SSD_300_POSTPROCESS_H',
      'PD_SSD_300_OK',
      'PD_SSD_300_ERR_ARG',
      'PD_SSD_300_ERR_WORKSPACE',
      'PD_SSD_300_WORKSPACE_SIZE',
    ]);
  });

  it('detect two module names that sanitise to the same prefix', () => {
    expect(() => checkDistinctStems(['ssd300', 'retina', 'ssd300'])).not.toThrow();
    expect(() => checkDistinctStems(['ssd-300', 'SSD_300'])).toThrow(
      /module names "ssd-300" and "SSD_300" both become C prefix pd_ssd_300_/,
    );
  });
});
