/**
 * Where the tools read a tenant's name key from: `env:<VARIABLE>` or `file:<path>`. A key typed on
 * the command line would end up in shell history and process listings, so the tasks and the
 * reporter refuse one; the message never echoes the value. Node-only (reads files and the
 * environment), unlike chain/naming.ts.
 */
import { readFile } from "node:fs/promises";
import { keyedNaming, NamingError, parseNameKey, type ChainNaming } from "./naming";

/** A `--name-key` value that is neither `env:` nor `file:`, or names nothing readable. */
export class NameKeySourceError extends NamingError {}

export interface NameKeySourceOptions {
  env?: NodeJS.ProcessEnv;
  /** Also accept the key itself (the verifier does, for a tenant's one-off checks). */
  allowLiteral?: boolean;
  /** How the setting is called in messages (default `--name-key`). */
  flag?: string;
}

/** Reads the key bytes named by `spec`. */
export async function readNameKey(spec: string, options: NameKeySourceOptions = {}): Promise<Uint8Array> {
  const flag = options.flag ?? "--name-key";
  const env = options.env ?? process.env;
  if (spec.startsWith("env:")) {
    const variable = spec.slice(4);
    const value = env[variable];
    if (value === undefined || value.trim() === "") throw new NameKeySourceError(`${flag}: environment variable ${variable} is not set`);
    return parseNameKey(value);
  }
  if (spec.startsWith("file:")) {
    const file = spec.slice(5);
    try {
      return parseNameKey(await readFile(file, "utf8"));
    } catch (err) {
      throw new NameKeySourceError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  }
  if (options.allowLiteral) return parseNameKey(spec);
  throw new NameKeySourceError(`${flag}: give env:<VARIABLE> or file:<path>, not the key itself (it would be left in shell history and process listings)`);
}

/** The keyed naming for the key named by `spec`; a key shorter than 16 bytes is refused naming the setting. */
export async function namingFromKeySource(spec: string, options: NameKeySourceOptions = {}): Promise<ChainNaming> {
  const key = await readNameKey(spec, options);
  try {
    return keyedNaming(key);
  } catch (err) {
    throw new NameKeySourceError(`${options.flag ?? "--name-key"}: ${(err as Error).message}`, { cause: err });
  }
}
