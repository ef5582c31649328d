/**
 * systemd socket activation: the service manager binds the port and hands the listening socket to the
 * process it starts, as file descriptor 3, with `LISTEN_FDS` (how many) and `LISTEN_PID` (for whom) in
 * the environment. The socket outlives the process, so connections made while no process serves (a
 * cold restart) wait in the kernel's backlog instead of being refused.
 * @packageDocumentation
 */

/** The first file descriptor a service manager passes (`SD_LISTEN_FDS_START`). */
export const LISTEN_FDS_START = 3;

/** The environment variables of socket activation. */
const ACTIVATION_VARIABLES = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'] as const;

/**
 * The listening socket a service manager passed to this process, if any: fd 3 when `LISTEN_PID` names
 * this process and `LISTEN_FDS` is at least 1 (the rule of `sd_listen_fds`; variables meant for another
 * process, such as a parent's, are ignored). With several sockets, the first one.
 * @param env - the environment to read @default process.env
 * @param pid - this process's id @default process.pid
 * @example
 * ```ts
 * const server = createServer({ ... });
 * await server.listen(inheritedSocket() ?? 8080, '0.0.0.0');
 * ```
 */
export function inheritedSocket(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): { fd: number } | undefined {
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== pid) return undefined;
  const count = Number(env.LISTEN_FDS);
  if (!Number.isInteger(count) || count < 1) return undefined;
  return { fd: LISTEN_FDS_START };
}

/**
 * Remove the socket-activation variables from `env`, so a child process does not take them for its own
 * (what `sd_listen_fds(1)` does).
 * @param env - the environment to clean @default process.env
 */
export function forgetSocketActivation(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of ACTIVATION_VARIABLES) delete env[name];
}
