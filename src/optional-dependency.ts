/**
 * Loading the server-side packages lifeline does not force on every install (better-sqlite3, ws,
 * pino, prom-client: optional dependencies; ioredis: an optional peer). A client-only install
 * (`npm install lifeline --omit=optional`) has none of them, so nothing may import them statically
 * from a module that a client-only user can reach: the entry points that need one load it here, on
 * first use, and a missing one is a {@link MissingDependencyError} that names the package to install.
 *
 * All five are CommonJS, so a synchronous `require` works and constructors (`createServer`, the
 * stores) stay synchronous.
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import { LifelineError } from './errors.js';

/** The packages loaded through {@link requireOptional}, with how they are declared in package.json. */
export const OPTIONAL_PACKAGES = {
  'better-sqlite3': 'optional dependency',
  ws: 'optional dependency',
  pino: 'optional dependency',
  'prom-client': 'optional dependency',
  ioredis: 'optional peer dependency',
} as const;

/** A package name {@link requireOptional} knows. */
export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

/** A feature needs a package that is not installed. `packageName` says which one to install. */
export class MissingDependencyError extends LifelineError<'LIFELINE_ERR_MISSING_DEPENDENCY'> {
  /** The npm package to install. */
  readonly packageName: OptionalPackage;

  /**
   * @param packageName - the missing package
   * @param feature - what needs it, for the message ("the sqlite store", "lifeline/server")
   */
  constructor(packageName: OptionalPackage, feature: string, options?: ErrorOptions) {
    const kind = OPTIONAL_PACKAGES[packageName];
    super(
      'LIFELINE_ERR_MISSING_DEPENDENCY',
      `${feature} needs the "${packageName}" package, which is not installed: run npm install ${packageName} (an ${kind} of lifeline${kind === 'optional dependency' ? ', left out by --omit=optional' : ''})`,
      options,
    );
    this.packageName = packageName;
  }
}

const load = createRequire(import.meta.url);
const loaded = new Map<OptionalPackage, unknown>();

/**
 * The package `name`, loaded on first use and cached.
 * @param feature - what needs it, named in the error
 * @throws MissingDependencyError when the package is not installed (any other load failure, such as a
 *   native module built for another Node version, is rethrown as it is)
 */
export function requireOptional<T>(name: OptionalPackage, feature: string): T {
  if (loaded.has(name)) return loaded.get(name) as T;
  let mod: unknown;
  try {
    mod = load(name);
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown };
    // Only the package itself missing; a package whose own dependency is missing says which in its error.
    if (e.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.split('\n')[0]!.includes(`'${name}'`)) {
      throw new MissingDependencyError(name, feature, { cause: error });
    }
    throw error;
  }
  loaded.set(name, mod);
  return mod as T;
}
