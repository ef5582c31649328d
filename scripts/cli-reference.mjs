#!/usr/bin/env node
// Write docs/cli.md from the CLI's option tables (run after `tsc`: it reads dist/).
import { writeFile } from 'node:fs/promises';
import { renderReference } from '../dist/cli/reference.js';
import { COMMAND_SPECS } from '../dist/cli/specs/index.js';

await writeFile(new URL('../docs/cli.md', import.meta.url), renderReference(COMMAND_SPECS));
console.error('docs/cli.md written');
