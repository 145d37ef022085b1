// Option definitions several commands share, so their help reads the same everywhere.

export const INPUT_SHAPE_OPTION = {
  type: 'string',
  describe: 'input shape N,C,H,W for models with a dynamic input size',
} as const;

export const HEAD_SPEC_OPTION = {
  type: 'string',
  describe: 'JSON naming the head convs per level, when analysis cannot tell',
} as const;

export const FORCE_OPTION = {
  type: 'boolean',
  default: false,
  describe:
    'replace an existing non-empty output that prunedet did not make (its own earlier output is replaced without it)',
} as const;

/** The image preprocessing flags of the commands that run a model on photos (verify, detect). */
export const PREPROCESS_OPTIONS = {
  size: { type: 'string', describe: 'image preprocessing: network input WxH' },
  mean: { type: 'string', describe: 'image preprocessing: per-channel mean r,g,b' },
  std: { type: 'string', describe: 'image preprocessing: per-channel std r,g,b' },
  bgr: { type: 'boolean', default: false, describe: 'image preprocessing: feed B,G,R planes' },
  letterbox: { type: 'boolean', default: false, describe: 'image preprocessing: keep aspect ratio, pad' },
} as const;

/** Those flags as parsed, for the jobs' `preprocess` option (unset strings left out). */
export function preprocessFlags(a: { size?: string; mean?: string; std?: string; bgr: boolean; letterbox: boolean }): {
  size?: string;
  mean?: string;
  std?: string;
  bgr: boolean;
  letterbox: boolean;
} {
  return {
    ...(a.size ? { size: a.size } : {}),
    ...(a.mean ? { mean: a.mean } : {}),
    ...(a.std ? { std: a.std } : {}),
    bgr: a.bgr,
    letterbox: a.letterbox,
  };
}
