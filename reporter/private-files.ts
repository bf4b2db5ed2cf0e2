import { chmod, mkdir, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { JournalPermissionError } from "./errors";

/** Owner-only modes for everything that may hold salts and records of unrevealed commitments. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

// Windows has no POSIX mode bits (stat reports 0o666 for every file), so the check would only
// ever refuse there; ACLs are the operator's business on that platform.
const CHECKED = process.platform !== "win32";

/**
 * Creates `dir` owner-only, or, when it exists, refuses it if group or others have any access.
 * A freshly created directory is chmod-ed explicitly because mkdir's mode is filtered by the
 * umask, which could also take the owner's own bits away.
 */
export async function ensurePrivateDir(dir: string, fixDir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: PRIVATE_DIR_MODE });
    await chmod(dir, PRIVATE_DIR_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    await assertPrivate(dir, fixDir);
  }
}

/** Throws {@link JournalPermissionError} when `file` (a file or directory) is open to group/others. */
export async function assertPrivate(file: string, fixDir: string): Promise<void> {
  if (!CHECKED) return;
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) throw new JournalPermissionError(file, mode, fixDir);
}

/** {@link assertPrivate} for `dir` and everything below it. */
export async function assertPrivateTree(dir: string, fixDir: string): Promise<void> {
  await assertPrivate(dir, fixDir);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await assertPrivateTree(full, fixDir);
    else await assertPrivate(full, fixDir);
  }
}
