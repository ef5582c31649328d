/** Run `lifeline drill` as a separate process and read its JSON report. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DrillReport } from '../../src/cli/drill/run-drill.js';

const BIN = fileURLToPath(new URL('../../bin/lifeline.js', import.meta.url));

/** The drill's JSON report: the same type the CLI prints. */
export type DrillResult = DrillReport;

/** Start a drill; `done` resolves with its exit code, report and stderr. */
export function startDrill(urls: string[], args: string[]): { done: Promise<{ code: number | null; report: DrillResult; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, 'drill', ...urls, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{ code: number | null; report: DrillResult; stderr: string }>((resolve, reject) => {
    child.on('exit', (code) => {
      try {
        resolve({ code, report: JSON.parse(stdout) as DrillResult, stderr });
      } catch {
        reject(new Error(`drill printed no report (exit ${code}): ${stderr.slice(-2000)}`));
      }
    });
  });
  return { done };
}
