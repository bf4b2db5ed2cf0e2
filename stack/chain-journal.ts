import { open, readFile, mkdir } from "node:fs/promises";
import path from "node:path";
import {
  keccak256,
  serializeTransaction,
  type EIP1193Provider,
  type Hex,
  type RpcBlock,
  type RpcTransaction,
  type TransactionSerializable,
} from "viem";
import { writeDurably } from "../reporter/journal";

/**
 * The in-process Hardhat chain lives in memory. To survive restarts the stack records every
 * block it produced (timestamp and raw signed transactions) and replays them into a fresh
 * chain started from the same genesis date: same accounts, same transactions, same timestamps
 * give the same block hashes, which the replay checks block by block. The indexer's database
 * therefore stays valid across restarts.
 */

export interface RecordedBlock {
  number: number;
  hash: Hex;
  timestamp: number;
  txs: Hex[];
}

export interface ChainMeta {
  /** Genesis date of the in-process network (hardhat `initialDate`). */
  initialDate: string;
  genesisHash: Hex;
  chainId: number;
}

export class ChainReplayError extends Error {
  override name = "ChainReplayError";
}

type Provider = Pick<EIP1193Provider, "request">;

// Hardhat's JSON-RPC methods are not in viem's typed schema; one untyped door keeps casts in one place.
function rpc<T>(provider: Provider, method: string, params: unknown[] = []): Promise<T> {
  return (provider.request as (a: { method: string; params: unknown[] }) => Promise<T>)({ method, params });
}

/** Rebuilds the signed raw transaction from its JSON-RPC form; checked against its hash. */
interface RpcTx {
  hash: Hex;
  type: Hex;
  chainId?: Hex;
  nonce: Hex;
  gas: Hex;
  to: Hex | null;
  value: Hex;
  input: Hex;
  gasPrice?: Hex;
  maxFeePerGas?: Hex;
  maxPriorityFeePerGas?: Hex;
  accessList?: { address: Hex; storageKeys: Hex[] }[];
  r: Hex;
  s: Hex;
  v: Hex;
  yParity?: Hex;
}

export function rawTransaction(rpcTx: RpcTransaction): Hex {
  const tx = rpcTx as unknown as RpcTx;
  const common = {
    chainId: tx.chainId !== undefined ? Number(tx.chainId) : undefined,
    nonce: Number(tx.nonce),
    gas: BigInt(tx.gas),
    to: tx.to ?? undefined,
    value: BigInt(tx.value),
    data: tx.input,
  };
  let unsigned: TransactionSerializable;
  if (tx.type === "0x2") {
    unsigned = {
      ...common,
      type: "eip1559",
      chainId: Number(tx.chainId),
      maxFeePerGas: BigInt(tx.maxFeePerGas!),
      maxPriorityFeePerGas: BigInt(tx.maxPriorityFeePerGas!),
      accessList: tx.accessList ?? [],
    };
  } else if (tx.type === "0x1") {
    unsigned = { ...common, type: "eip2930", chainId: Number(tx.chainId), gasPrice: BigInt(tx.gasPrice!), accessList: tx.accessList ?? [] };
  } else if (tx.type === "0x0") {
    unsigned = { ...common, type: "legacy", gasPrice: BigInt(tx.gasPrice!) };
  } else {
    throw new ChainReplayError(`transaction ${tx.hash} has type ${tx.type}, which the chain journal cannot record`);
  }
  const v = BigInt(tx.v);
  const signature =
    tx.type === "0x0"
      ? { r: tx.r, s: tx.s, v }
      : { r: tx.r, s: tx.s, yParity: Number(tx.yParity ?? v) };
  const raw = serializeTransaction(unsigned, signature);
  if (keccak256(raw) !== tx.hash) throw new ChainReplayError(`cannot rebuild raw transaction ${tx.hash}`);
  return raw;
}

/** Appends blocks to `<dir>/blocks.jsonl` (fsynced), and replays them. */
export class ChainJournal {
  private readonly blocksFile: string;
  private readonly metaFile: string;
  private recorded = 0;
  private syncing: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {
    this.blocksFile = path.join(dir, "blocks.jsonl");
    this.metaFile = path.join(dir, "chain.json");
  }

  async meta(): Promise<ChainMeta | undefined> {
    try {
      return JSON.parse(await readFile(this.metaFile, "utf8")) as ChainMeta;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async writeMeta(meta: ChainMeta): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeDurably(this.metaFile, meta);
  }

  async blocks(): Promise<RecordedBlock[]> {
    let text: string;
    try {
      text = await readFile(this.blocksFile, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const out: RecordedBlock[] = [];
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        out.push(JSON.parse(line) as RecordedBlock);
      } catch {
        // A torn last line from a crash mid-append: everything before it is intact.
        break;
      }
    }
    return out;
  }

  /**
   * Replays recorded blocks into `provider` (a fresh chain from the same genesis), checking
   * every block hash. Returns the number of blocks replayed.
   */
  async replay(provider: Provider, onProgress?: (done: number, total: number) => void): Promise<number> {
    const blocks = await this.blocks();
    for (const [i, b] of blocks.entries()) {
      await rpc(provider, "evm_setNextBlockTimestamp", [b.timestamp]);
      if (b.txs.length === 0) await rpc(provider, "evm_mine");
      else if (b.txs.length === 1) await rpc(provider, "eth_sendRawTransaction", [b.txs[0]]);
      else {
        await rpc(provider, "evm_setAutomine", [false]);
        for (const raw of b.txs) await rpc(provider, "eth_sendRawTransaction", [raw]);
        await rpc(provider, "evm_mine");
        await rpc(provider, "evm_setAutomine", [true]);
      }
      const block = await rpc<RpcBlock>(provider, "eth_getBlockByNumber", [`0x${b.number.toString(16)}`, false]);
      if (block.hash !== b.hash) {
        throw new ChainReplayError(
          `replayed block ${b.number} has hash ${block.hash ?? "none"}, recorded ${b.hash}: the saved chain cannot be restored`,
        );
      }
      if (onProgress && i % 200 === 0) onProgress(i, blocks.length);
    }
    this.recorded = blocks.at(-1)?.number ?? 0;
    return blocks.length;
  }

  /** Records every block after the last recorded one up to the head. Calls are serialized. */
  sync(provider: Provider): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncNow(provider));
    return this.syncing;
  }

  private async syncNow(provider: Provider): Promise<void> {
    const head = Number(await rpc<Hex>(provider, "eth_blockNumber"));
    if (head <= this.recorded) return;
    const lines: string[] = [];
    for (let n = this.recorded + 1; n <= head; n++) {
      const block = await rpc<RpcBlock<"latest", true>>(provider, "eth_getBlockByNumber", [`0x${n.toString(16)}`, true]);
      const recorded: RecordedBlock = {
        number: n,
        hash: block.hash!,
        timestamp: Number(block.timestamp),
        txs: block.transactions.map((tx) => rawTransaction(tx)),
      };
      lines.push(JSON.stringify(recorded));
    }
    await mkdir(this.dir, { recursive: true });
    const handle = await open(this.blocksFile, "a");
    try {
      await handle.appendFile(`${lines.join("\n")}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    this.recorded = head;
  }
}

/** JSON-RPC methods after which a new block may exist. */
const MINING_METHODS = new Set(["eth_sendRawTransaction", "eth_sendTransaction", "evm_mine", "hardhat_mine"]);

/**
 * A view of `provider` whose mining requests return only after the new block is journaled, so a
 * crash right after a client saw its transaction mined cannot lose that block. Everything else
 * (including event subscriptions) goes to the provider unchanged.
 */
export function recordingProvider<P extends Provider>(provider: P, journal: ChainJournal): P {
  return new Proxy(provider, {
    get(target, prop) {
      if (prop === "request") {
        return async (args: { method: string; params?: unknown }) => {
          const result = await (target.request as (a: typeof args) => Promise<unknown>)(args);
          if (MINING_METHODS.has(args.method)) await journal.sync(target);
          return result;
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

