/**
 * Request/response over the IPC channel of a forked process, for the bench runner (parent side) and
 * its server and load-generator processes (child side). Every child the runner starts is tracked, so
 * none outlives the run, whatever way the run ends.
 */
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';

const children = new Set();

/** Kill every child still running (SIGKILL; they hold nothing worth saving). */
export function killAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}
process.on('exit', killAll);

/**
 * Fork `script` with an IPC channel. Returns a handle with `request(type, payload, timeoutMs)` (resolves
 * with the child's answer), `events` (messages the child pushes: `{event, payload}`), and `exited`.
 * @param {string} script
 * @param {{args?: string[], execArgv?: string[], env?: NodeJS.ProcessEnv, name?: string}} [options]
 */
export function forkChild(script, options = {}) {
  const child = fork(script, options.args ?? [], {
    execArgv: options.execArgv ?? [],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  return wrap(child, options.name ?? script);
}

/**
 * Spawn a command that has no IPC channel (the `lifeline serve` CLI). Its stdout lines are handed to
 * `onLine`; the handle has `exited`, `kill` and the last output for error messages.
 */
export function spawnChild(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  children.add(child);
  const tail = [];
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (line === '') continue;
      options.onLine?.(line);
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child);
    return { code, signal };
  });
  return { child, exited, tail, pid: child.pid, kill: (signal = 'SIGTERM') => child.kill(signal) };
}

function wrap(child, name) {
  children.add(child);
  const tail = [];
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (line === '') continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${line}\n`);
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let nextId = 1;
  const pending = new Map();
  const listeners = new Map();
  let exitInfo;
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child);
    exitInfo = { code, signal };
    for (const { reject, timer } of pending.values()) {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}, signal ${signal}) during a request:\n${tail.join('\n')}`));
    }
    pending.clear();
    return exitInfo;
  });
  child.on('message', (message) => {
    if (message && message.id !== undefined) {
      const waiter = pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      clearTimeout(waiter.timer);
      if (message.error !== undefined) waiter.reject(new Error(`${name}: ${message.error}`));
      else waiter.resolve(message.result);
    } else if (message && message.event !== undefined) {
      for (const fn of listeners.get(message.event) ?? []) fn(message.payload);
    }
  });
  return {
    child,
    name,
    pid: child.pid,
    exited,
    tail,
    /** Send a request; rejects after `timeoutMs` or if the child exits first. */
    request(type, payload = {}, timeoutMs = 60_000) {
      if (exitInfo) return Promise.reject(new Error(`${name} has exited:\n${tail.join('\n')}`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: no answer to "${type}" within ${timeoutMs} ms:\n${tail.join('\n')}`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        child.send({ id, type, payload });
      });
    },
    /** Listen to events the child pushes. */
    on(event, fn) {
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).push(fn);
    },
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/**
 * Child side: answer the parent's requests with `handlers[type](payload)`. A handler may be async;
 * a throw is sent back as an error. The child exits when the parent goes away.
 * @param {Record<string, (payload: any) => unknown>} handlers
 */
export function serveRequests(handlers) {
  process.on('message', async (message) => {
    const { id, type, payload } = message;
    try {
      const handler = handlers[type];
      if (!handler) throw new Error(`unknown request "${type}"`);
      const result = await handler(payload);
      process.send?.({ id, result: result ?? null });
    } catch (error) {
      process.send?.({ id, error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

/** Child side: push an event to the parent. */
export function emit(event, payload) {
  process.send?.({ event, payload });
}
