import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import type { Address, Hex } from "viem";
import { JournalError } from "./errors";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, assertPrivateTree, ensurePrivateDir } from "./private-files";

/**
 * Where a batch stands as far as this reporter last wrote down. The chain is the source of
 * truth on restart; the journal exists so that the salt and records of every commitment that
 * might have been sent are on disk before the commit leaves the process.
 */
export type BatchStatus = "planned" | "commit-sent" | "committed" | "reveal-sent" | "revealed";

/** Immutable part of a batch: decided once when the job is planned. */
export interface PlannedBatch {
  id: string;
  tenantId: number;
  firstSequence: string;
  lastSequence: string;
  /** PackedRecord words as decimal strings (JSON has no bigint). */
  records: { packed: string; ref: Hex }[];
  /** Input line of each record, to tie a failure back to the file. */
  lines: number[];
  salt: Hex;
}

/** Mutable part of a batch; absent until the first commit is prepared. */
export interface BatchState {
  id: string;
  status: BatchStatus;
  salt: Hex;
  commitment: Hex;
  /** Salts given up because their commitment expired unrevealed. */
  expiredSalts: Hex[];
  commitTx?: Hex;
  committedAt?: string;
  revealTx?: Hex;
  revealedAt?: string;
  /**
   * Set before the batch's commit is signed into a relay payload: from then on someone outside
   * this process may commit and reveal it, so it must not be re-planned as if nobody knew it.
   */
  signedForRelay?: boolean;
  updatedAt: string;
}

export interface Job {
  id: Hex;
  createdAt: string;
  source: string;
  batches: PlannedBatch[];
  /** Input lines left out because their ref was already submitted for the tenant (or repeated). */
  skippedLines?: number[];
  /**
   * Batches this job re-plans. Writing the job is the one atomic step that retires them, so a
   * crash can never leave both the old and the new plan pending.
   */
  replaces?: string[];
}

/** One scanned block range of a tenant's `UsageRevealed` logs and the non-zero refs found in it. */
export interface KeyScanSegment {
  from: string;
  to: string;
  refs: Hex[];
}

/**
 * A directory per (chain, contract, reporter): `jobs/<id>.json` holds a planned submission
 * (written once, atomically), `batches/<id>.json` the latest state of each batch, and
 * `keys/<tenant>.jsonl` the cache of the tenant's submitted refs scanned from the chain. Every
 * write goes to a temporary file that is fsynced, renamed over the target, and followed by an
 * fsync of the directory, so after a crash each file is either the old or the new version.
 *
 * Everything is owner-only (directories 0700, files 0600) and {@link Journal.open} refuses a
 * journal that group or others can access: the files hold the salts of unrevealed commitments.
 */
export class Journal {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async open(root: string, scope: { chainId: number; meter: Address; reporter: Address }): Promise<Journal> {
    const dir = path.join(root, `${scope.chainId}-${scope.meter.toLowerCase()}-${scope.reporter.toLowerCase()}`);
    // Parents above the journal root are created owner-only too, but never checked: they are
    // the operator's (e.g. a home directory), and the 0700 root already fences the secrets.
    await mkdir(path.dirname(root), { recursive: true, mode: PRIVATE_DIR_MODE });
    await ensurePrivateDir(root, root);
    await ensurePrivateDir(dir, root);
    for (const sub of ["jobs", "batches", "keys"]) await ensurePrivateDir(path.join(dir, sub), root);
    await assertPrivateTree(dir, root);
    await fsyncDir(root);
    await fsyncDir(dir);
    return new Journal(dir);
  }

  async jobs(): Promise<Job[]> {
    const names = (await readdir(path.join(this.dir, "jobs"))).filter((n) => n.endsWith(".json"));
    const jobs = await Promise.all(names.map((n) => readJson<Job>(path.join(this.dir, "jobs", n))));
    return jobs.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async job(id: Hex): Promise<Job | undefined> {
    try {
      return await readJson<Job>(path.join(this.dir, "jobs", `${id}.json`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async writeJob(job: Job): Promise<void> {
    await writeDurably(path.join(this.dir, "jobs", `${job.id}.json`), job, PRIVATE_FILE_MODE);
  }

  async state(batchId: string): Promise<BatchState | undefined> {
    try {
      return await readJson<BatchState>(path.join(this.dir, "batches", `${batchId}.json`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async writeState(state: BatchState): Promise<void> {
    await writeDurably(path.join(this.dir, "batches", `${state.id}.json`), { ...state, updatedAt: new Date().toISOString() }, PRIVATE_FILE_MODE);
  }

  /**
   * The cached scan of a tenant's submitted refs, oldest segment first. It is only a cache (the
   * chain can always be scanned again), so a line torn or garbled by a crash ends the valid part
   * instead of failing the run; the file is cut back to that part before anything is appended.
   */
  async keyScan(tenantId: number): Promise<KeyScanSegment[]> {
    const file = this.keyScanFile(tenantId);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const lines = text.split("\n");
    const complete = lines.pop() === "";
    const segments: KeyScanSegment[] = [];
    for (const line of lines) {
      try {
        segments.push(JSON.parse(line) as KeyScanSegment);
      } catch {
        break;
      }
    }
    if (!complete || segments.length < lines.length) await this.rewriteKeyScan(tenantId, segments);
    return segments;
  }

  /** Replaces a tenant's cached scan atomically (repair or compaction). */
  async rewriteKeyScan(tenantId: number, segments: readonly KeyScanSegment[]): Promise<void> {
    await writeDurably(this.keyScanFile(tenantId), undefined, PRIVATE_FILE_MODE, segments.map((s) => `${JSON.stringify(s)}\n`).join(""));
  }

  /**
   * Appends one scanned range. Not fsynced: losing the tail of a cache costs a rescan of those
   * blocks, while an fsync before every commit would cost every run.
   */
  async appendKeyScan(tenantId: number, segment: KeyScanSegment): Promise<void> {
    const handle = await open(this.keyScanFile(tenantId), "a", PRIVATE_FILE_MODE);
    try {
      await handle.chmod(PRIVATE_FILE_MODE);
      await handle.appendFile(`${JSON.stringify(segment)}\n`);
    } finally {
      await handle.close();
    }
  }

  /** Drops the cached scan (its start no longer covers the range asked for). */
  async resetKeyScan(tenantId: number): Promise<void> {
    await rm(this.keyScanFile(tenantId), { force: true });
    await fsyncDir(path.join(this.dir, "keys"));
  }

  private keyScanFile(tenantId: number): string {
    return path.join(this.dir, "keys", `${tenantId}.jsonl`);
  }

  /** Highest sequence this journal ever planned for a tenant (0n if none). */
  async maxPlannedSequence(tenantId: number): Promise<bigint> {
    let max = 0n;
    for (const job of await this.jobs()) {
      for (const b of job.batches) {
        if (b.tenantId === tenantId && BigInt(b.lastSequence) > max) max = BigInt(b.lastSequence);
      }
    }
    return max;
  }
}

async function readJson<T>(file: string): Promise<T> {
  const text = await readFile(file, "utf8");
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new JournalError(`journal file ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Write-fsync-rename-fsync(dir): the file is durable and never half-written once this resolves.
 * The file ends up with exactly `mode` (the rename keeps the temporary file's mode, which is set
 * with chmod because open's mode is filtered by the umask and ignored for an existing file).
 * `text`, when given, is written verbatim instead of `value` as JSON.
 */
export async function writeDurably(file: string, value: unknown, mode = 0o644, text?: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  // A temporary file left by a crashed process of the same pid may carry another mode.
  await rm(tmp, { force: true });
  const handle = await open(tmp, "wx", mode);
  try {
    await handle.chmod(mode);
    await handle.writeFile(text ?? JSON.stringify(value, null, 1));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await fsyncDir(path.dirname(file));
}
