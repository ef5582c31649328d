/**
 * Every command's table, in the order `lifeline --help` and docs/cli.md list them.
 * @packageDocumentation
 */
import type { CommandSpec } from '../spec.js';
import { COMPARE, EXPLAIN } from './codes.js';
import { DRILL } from './drill.js';
import { PROBE } from './probe.js';
import { SERVE } from './serve.js';

/** The commands, by name. */
export const COMMAND_SPECS: readonly CommandSpec[] = [SERVE, DRILL, PROBE, EXPLAIN, COMPARE];
