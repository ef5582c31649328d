/**
 * The rollback fence of the SQLite engine: a second database file beside the main one that remembers, per
 * channel, the epoch and the highest offset ever appended in it. It is written in the append's own
 * transaction, and never restored with a backup of the main file, so when the main file comes back older
 * than what clients saw (a restored backup, commits lost to a power loss), opening finds the main file
 * behind the fence and rotates the channel's epoch: resuming clients are told `recovered: false`, and no
 * offset is ever given out twice with other data in one epoch.
 * @packageDocumentation
 */
import { basename, dirname, extname, join } from 'node:path';
import type Database from 'better-sqlite3';
import { randomEpoch } from '../rules.js';

import type { StoreRollback } from '../types.js';

export type { StoreRollback };

/** The schema name the fence file is attached under, on every connection of the engine. */
export const FENCE_SCHEMA = 'fence';

/**
 * The fence file of a main database: beside it, `lifeline.db` → `lifeline.fence.db` (a name without an
 * extension gets `.fence`). Not `lifeline.db-fence`: a backup that copies `lifeline.db*` (the main file
 * with its `-wal`) must not take the fence along, or a restore would restore the fence too.
 */
export function fencePathOf(path: string): string {
  const ext = extname(path);
  const name = basename(path, ext);
  return join(dirname(path), ext === '' ? `${name}.fence` : `${name}.fence${ext}`);
}

const FENCE_TABLE = `
CREATE TABLE IF NOT EXISTS ${FENCE_SCHEMA}.epochs (
  name   TEXT PRIMARY KEY,
  epoch  TEXT NOT NULL,
  offset INTEGER NOT NULL        -- the highest offset appended in this epoch
) WITHOUT ROWID;
`;

/** A fence row beside the main file's row of the same channel (`main*` null when the main file lacks it). */
interface CompareRow {
  name: string;
  epoch: string;
  offset: number;
  mainEpoch: string | null;
  mainLast: number | null;
}

/**
 * Attach the fence file to `db` (created when missing), in WAL mode with `synchronous` as given, and
 * create its table. The caller closes `db` when this throws.
 */
export function attachFence(db: Database.Database, fencePath: string, synchronous: 'normal' | 'full'): void {
  db.prepare(`ATTACH DATABASE ? AS ${FENCE_SCHEMA}`).run(fencePath);
  const mode = db.pragma(`${FENCE_SCHEMA}.journal_mode = WAL`, { simple: true });
  if (mode !== 'wal') throw new Error(`the fence ${fencePath} could not be switched to WAL mode (got ${String(mode)})`);
  db.pragma(`${FENCE_SCHEMA}.synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  const present = db.prepare<[], number>(`SELECT COUNT(*) FROM ${FENCE_SCHEMA}.sqlite_master WHERE name = 'epochs'`).pluck().get()!;
  // Under the write lock: several processes may open a fresh file at once.
  if (present === 0) db.transaction(() => db.exec(FENCE_TABLE)).immediate();
}

/**
 * The statement an append runs in its transaction: the channel's epoch and its new highest offset. The
 * offset is taken as given (not the larger of both): within an epoch the main file's offsets only grow,
 * and a new epoch starts low.
 */
export function prepareFenceUpdate(db: Database.Database): Database.Statement<[string, string, number]> {
  return db.prepare(
    `INSERT INTO ${FENCE_SCHEMA}.epochs (name, epoch, offset) VALUES (?, ?, ?) ` +
      'ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch, offset = excluded.offset',
  );
}

/**
 * Compare the main file with the fence and rotate every channel that is behind it, in one write
 * transaction (several processes may open at once: the second finds the fence matching and does nothing).
 *
 * - Same epoch, the main file's newest offset below the fence's: a fresh random epoch. The messages the
 *   main file holds stay, under the new epoch with their offsets (the same data, so a resume in the new
 *   epoch is right), and so do the idempotency keys pointing at them; the next append continues after them.
 * - Another epoch in the main file than in the fence (a file from before an earlier rotation): clients may
 *   have seen more of that epoch than the file holds, so the same rotation.
 * - The channel missing from the main file: it is unwritten (its empty epoch), and its first append makes
 *   a fresh random epoch anyway; the fence row goes, so it is not reported again.
 *
 * A main file ahead of the fence, or holding channels it lacks, is not behind anything: no rotation, and
 * the fence takes the file's positions. That is the case of a fence new beside a file written before
 * (an upgrade: from its first open on, the file is fenced, appended to or not), of appends while the
 * fence was off, and of an append cut off between its two commits: in WAL mode a transaction over two
 * files is atomic in each file, not across them, and SQLite commits the main file first, so a crash
 * between the two leaves the fence one append behind the file, never ahead of it (which would only cost
 * an unneeded rotation). One scan of `channels` per open. Returns the rotations made.
 */
export function rotateBehindFence(db: Database.Database, emptyEpoch: string): StoreRollback[] {
  const behind = db.prepare<[], CompareRow>(
    `SELECT f.name, f.epoch, f.offset, c.epoch AS mainEpoch, c.last_offset AS mainLast FROM ${FENCE_SCHEMA}.epochs f ` +
      'LEFT JOIN main.channels c ON c.name = f.name WHERE c.name IS NULL OR c.epoch <> f.epoch OR c.last_offset < f.offset',
  );
  const setEpoch = db.prepare<[string, string]>('UPDATE main.channels SET epoch = ? WHERE name = ?');
  const relabelKeys = db.prepare<[string, string, string]>('UPDATE main.idempotency_keys SET epoch = ? WHERE channel = ? AND epoch = ?');
  const setFence = prepareFenceUpdate(db);
  const dropFence = db.prepare<[string]>(`DELETE FROM ${FENCE_SCHEMA}.epochs WHERE name = ?`);
  // The file's channels the fence lacks or is behind in (a fence new beside a file written before, an
  // append whose fence write a crash cut off, appends with the fence off): the file is the best knowledge
  // there is, so the fence takes it, and a backup restored later is measured against it.
  const catchUp = db.prepare(
    `INSERT INTO ${FENCE_SCHEMA}.epochs (name, epoch, offset) SELECT name, epoch, last_offset FROM main.channels WHERE last_offset > 0 ` +
      'ON CONFLICT (name) DO UPDATE SET offset = excluded.offset WHERE epochs.epoch = excluded.epoch AND epochs.offset < excluded.offset',
  );
  return db
    .transaction((): StoreRollback[] => {
      const rotations: StoreRollback[] = [];
      for (const row of behind.all()) {
        if (row.mainEpoch === null || row.mainLast === null) {
          dropFence.run(row.name);
          rotations.push({ channel: row.name, epoch: row.epoch, seen: row.offset, found: 0, newEpoch: emptyEpoch });
          continue;
        }
        const newEpoch = randomEpoch();
        setEpoch.run(newEpoch, row.name);
        relabelKeys.run(newEpoch, row.name, row.mainEpoch);
        setFence.run(row.name, newEpoch, row.mainLast);
        rotations.push({ channel: row.name, epoch: row.epoch, seen: row.offset, found: row.mainEpoch === row.epoch ? row.mainLast : 0, newEpoch });
      }
      catchUp.run();
      return rotations;
    })
    .immediate();
}

/**
 * The availability probe's write when the fence is attached: one transaction over both files, as an append
 * is (`writeMain`, then the fence file's header), so the probe succeeds only when an append
 * could. The fence's `user_version` holds nothing else.
 */
export function fencedProbe(db: Database.Database, writeMain: (now: number) => void): () => void {
  const write = db.transaction((now: number) => {
    writeMain(now);
    db.pragma(`${FENCE_SCHEMA}.user_version = ${now % 2_000_000_000}`);
  });
  return () => write.immediate(Date.now());
}
