// Reading back what `prunedet compile` wrote into its output folder: report.json and the baseline anchors it names.
// Shared by verify and bench.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PrunedetError } from '../errors';
import type { CompileReport } from '../compile';
import type { AnchorSet } from '../anchors/types';
import { baselineFromMmdetConfig } from '../anchors/config/index';

/** `outDir`/report.json; throws E_FILE_NOT_FOUND when it is missing and E_OUTPUT when it is not JSON. */
export function readCompileReport(outDir: string): CompileReport {
  const path = join(outDir, 'report.json');
  if (!existsSync(path)) throw new PrunedetError('E_FILE_NOT_FOUND', `${path} does not exist`, 'pass the folder prunedet compile wrote');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CompileReport;
  } catch (e) {
    throw new PrunedetError('E_OUTPUT', `${path} is not valid JSON (${(e as Error).message})`, 'recompile the model');
  }
}

/** The baseline anchor set the report's config was resolved against, when that config file is still there. */
export function reportBaselineSet(report: CompileReport): AnchorSet | undefined {
  return report.config.baseline && existsSync(report.config.baseline) ? baselineFromMmdetConfig(report.config.baseline).set : undefined;
}
