/** The shipped JSON Schema of lifeline.v1 frames, compiled once with ajv (a devDependency; the decoders stay hand-written). */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';

/** The schema as shipped (`lifeline/protocol/lifeline.v1.schema.json`). */
export const schema = JSON.parse(readFileSync(new URL('../../schema/lifeline.v1.schema.json', import.meta.url), 'utf8')) as {
  $defs: Record<string, { oneOf?: { $ref: string }[]; properties?: Record<string, unknown>; required?: string[] }>;
};

// strictNumbers: JSON has no NaN or Infinity, yet JSON.parse('1e999') is Infinity; the decoders refuse it too.
const ajv = new Ajv2020({ strict: true, strictNumbers: true, allowUnionTypes: true });
ajv.addSchema(schema, 'lifeline.v1');

/** Validate a parsed client frame. */
export const validClientFrame = ajv.compile({ $ref: 'lifeline.v1#/$defs/ClientFrame' });
/** Validate a parsed server frame. */
export const validServerFrame = ajv.compile({ $ref: 'lifeline.v1#/$defs/ServerFrame' });

/** The frame types of one direction, as the schema lists them. */
export function schemaFrames(side: 'ClientFrame' | 'ServerFrame'): string[] {
  return (schema.$defs[side]!.oneOf ?? []).map((r) => r.$ref.split('/').at(-1)!);
}
