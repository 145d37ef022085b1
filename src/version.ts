// prunedet's version: package.json's, read once, so `--version`, report.json and the compiled model's producer_version
// can never disagree with what npm installed.
import { readFileSync } from 'node:fs';

export const PRUNEDET_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
