// User errors vs bugs (src/errors.ts, bin/run.ts): a file operation the machine refuses (permissions, space) is a
// user-fixable E_IO line, exit 2; any other error stays an internal error, exit 1.
import { describe, expect, it } from 'vitest';
import { PrunedetError, systemError } from '../src/errors';
import { runCommand } from '../bin/run';

function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: refused, ${syscall} '${path}'`), { code, syscall, path });
}

async function exitOf(work: () => void): Promise<{ code: number | undefined; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
  const before = process.exitCode;
  try {
    await runCommand(work);
    return { code: process.exitCode as number | undefined, stderr };
  } finally {
    process.stderr.write = write;
    process.exitCode = before;
  }
}

describe('errors the user can fix vs bugs', () => {
  it('EACCES, EPERM, EROFS, ENOSPC from a file operation become one E_IO line, exit 2', async () => {
    for (const code of ['EACCES', 'EPERM', 'EROFS', 'ENOSPC']) {
      const e = systemError(errno(code, 'open', '/out/model.onnx'));
      expect(e).toBeInstanceOf(PrunedetError);
      expect(e!.code).toBe('E_IO');
      const r = await exitOf(() => {
        throw errno(code, 'open', '/out/model.onnx');
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^prunedet: open /out/model\\.onnx failed \\(${code}\\); .+\\n$`));
    }
  });

  it('anything else stays an internal error (exit 1): ENOENT without context, a TypeError', async () => {
    expect(systemError(errno('ENOENT', 'open', '/x'))).toBeUndefined();
    expect(systemError(new TypeError('x is undefined'))).toBeUndefined();
    const r = await exitOf(() => {
      throw new TypeError('x is undefined');
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^prunedet: internal error: x is undefined \(this is a bug in prunedet/);
  });
});
