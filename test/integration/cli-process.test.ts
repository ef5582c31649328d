import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/lifeline.js', import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('the lifeline command as a process', () => {
  it('explain 1012 prints the registry text; --json parses', async () => {
    const text = await run(['explain', '1012']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Service Restart');
    const json = await run(['explain', '1012', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ code: 1012, reconnect: 'reconnect-soon', onWire: true });
  });

  it('compare 1011 1012 --lang zh prints Chinese; --json parses', async () => {
    const zh = await run(['compare', '1011', '1012', '--lang', 'zh']);
    expect(zh.code).toBe(0);
    expect(zh.stdout).toMatch(/[\u4e00-\u9fff]/);
    expect(zh.stdout).toContain('1011');
    const json = JSON.parse((await run(['compare', '1011', '1012', '--json'])).stdout) as { a: { code: number }; b: { code: number }; difference: string };
    expect([json.a.code, json.b.code]).toEqual([1011, 1012]);
    expect(json.difference.length).toBeGreaterThan(20);
  });

  it('bad input is one line on stderr and a non-zero exit, never a stack trace', async () => {
    for (const args of [['explain', '70000'], ['explain', 'abc'], ['compare', '1011'], ['nope'], ['drill'], ['serve', '--workers', 'x']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
    }
  });
});
