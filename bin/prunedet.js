#!/usr/bin/env node
// Entry point installed as `prunedet`: registers tsx so the TypeScript CLI runs without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./prunedet.ts');
