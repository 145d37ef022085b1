// Option definitions several commands share, so their help reads the same everywhere.

export const INPUT_SHAPE_OPTION = { type: 'string', describe: 'input shape N,C,H,W for models with a dynamic input size' } as const;

export const HEAD_SPEC_OPTION = { type: 'string', describe: 'JSON naming the head convs per level, when analysis cannot tell' } as const;

export const FORCE_OPTION = { type: 'boolean', default: false, describe: 'replace an existing non-empty output that prunedet did not make (its own earlier output is replaced without it)' } as const;
