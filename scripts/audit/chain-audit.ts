/**
 * Chain side of `meter:audit`: reconstructs UsageMeter's state from its events since the deploy
 * block and cross-checks it with view calls at one pinned block, so every figure in a report
 * describes the same chain state. The report is a list of uniformly shaped sections, each item
 * flagged ok or attention; other sources (e.g. a database reconciliation) append their own
 * sections and render the same way.
 */
import { Contract, Interface, ZeroAddress, type Provider, type Result } from "ethers";
import type { UsageMeter } from "../typechain-types";
import { LOCAL_CHAIN_IDS, type Deployment } from "../../chain/deployment";
import { ROLES, roleLabel } from "../../chain/roles";
import { usageMeterAbi } from "../../chain/abi.generated";
import { decodeRecordWord } from "../../chain/record";
import { bytes32ToText } from "../../chain/hex";

// ------------------------------------------------------------------ report

export type AuditStatus = "ok" | "attention";

export interface AuditItem {
  label: string;
  status: AuditStatus;
  /** One line for people. */
  summary: string;
  /** Machine-readable facts behind the summary (bigints become strings in JSON). */
  details?: Record<string, unknown>;
}

export interface AuditSection {
  id: string;
  title: string;
  items: AuditItem[];
}

export interface AuditReport {
  chainId: number;
  contract: string;
  /** The block every figure was read at. */
  block: { number: number; hash: string; timestamp: number };
  generatedAt: string;
  sections: AuditSection[];
}

export function sectionStatus(section: AuditSection): AuditStatus {
  return section.items.some((i) => i.status === "attention") ? "attention" : "ok";
}

export function reportStatus(report: AuditReport): AuditStatus {
  return report.sections.some((s) => sectionStatus(s) === "attention") ? "attention" : "ok";
}

export function attentionItems(report: AuditReport): Array<AuditItem & { section: string }> {
  return report.sections.flatMap((s) => s.items.filter((i) => i.status === "attention").map((i) => ({ ...i, section: s.id })));
}

export function renderAuditReport(report: AuditReport): string {
  const lines = [
    `UsageMeter audit: ${report.contract} on chain ${report.chainId} at block ${report.block.number} (${report.block.hash})`,
  ];
  for (const section of report.sections) {
    lines.push("", `${section.title} [${sectionStatus(section)}]`);
    if (section.items.length === 0) lines.push("  (nothing)");
    for (const item of section.items) {
      const flag = item.status === "ok" ? "  ok       " : "! ATTENTION";
      lines.push(`${flag} ${item.label}: ${item.summary}`);
    }
  }
  const attention = attentionItems(report);
  lines.push(
    "",
    attention.length === 0 ? "Result: clean" : `Result: ${attention.length} item(s) need attention`,
  );
  return lines.join("\n");
}

export function auditReportToJson(report: AuditReport): string {
  const withStatus = {
    status: reportStatus(report),
    ...report,
    sections: report.sections.map((s) => ({ ...s, status: sectionStatus(s) })),
  };
  return JSON.stringify(withStatus, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value), 2);
}

// ------------------------------------------------------------------ events

export interface MeterEvent {
  name: string;
  args: Result;
  blockNumber: number;
  logIndex: number;
  txHash: string;
}

const meterInterface = new Interface(usageMeterAbi);

/** All UsageMeter events in [fromBlock, toBlock], in chain order, fetched in bounded ranges. */
export async function fetchMeterEvents(
  provider: Provider,
  address: string,
  fromBlock: number,
  toBlock: number,
  chunkSize = 2_000,
): Promise<MeterEvent[]> {
  const events: MeterEvent[] = [];
  for (let start = fromBlock; start <= toBlock; start += chunkSize) {
    const end = Math.min(toBlock, start + chunkSize - 1);
    const logs = await provider.getLogs({ address, fromBlock: start, toBlock: end });
    for (const log of logs) {
      const parsed = meterInterface.parseLog(log);
      if (!parsed) continue;
      events.push({ name: parsed.name, args: parsed.args, blockNumber: log.blockNumber, logIndex: log.index, txHash: log.transactionHash });
    }
  }
  return events.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
}

/** Role id → current holders, replaying RoleGranted/RoleRevoked. */
export function roleHoldersFromEvents(events: readonly MeterEvent[]): Map<string, string[]> {
  const holders = new Map<string, Set<string>>();
  for (const name of Object.keys(ROLES) as Array<keyof typeof ROLES>) holders.set(ROLES[name], new Set());
  for (const e of events) {
    if (e.name !== "RoleGranted" && e.name !== "RoleRevoked") continue;
    const role = String(e.args.role).toLowerCase();
    const set = holders.get(role) ?? new Set<string>();
    holders.set(role, set);
    if (e.name === "RoleGranted") set.add(String(e.args.account));
    else set.delete(String(e.args.account));
  }
  return new Map([...holders].map(([role, set]) => [role, [...set].sort()]));
}


// ------------------------------------------------------------------ state replay

export type CommitmentState = "committed" | "revealed" | "expired";

export interface CommitmentEntry {
  reporter: string;
  commitment: string;
  tenantId: number;
  committedAt: number;
  status: CommitmentState;
}

export interface TenantEntry {
  name: string;
  meters: Map<number, string>;
  reporters: Set<string>;
}

export interface UsageTotal {
  tenantId: number;
  meterId: number;
  quantity: bigint;
  records: number;
}

export interface Replay {
  commitments: Map<string, CommitmentEntry>;
  counts: { commits: number; reveals: number; expiries: number; records: number };
  tenants: Map<number, TenantEntry>;
  usage: Map<string, UsageTotal>;
  /** (tenant, reporter) → highest sequence revealed. */
  lastSequence: Map<string, { tenantId: number; reporter: string; sequence: bigint }>;
  sequenceViolations: Array<{ tenantId: number; reporter: string; sequence: bigint; previous: bigint; txHash: string }>;
  lastPauseReason?: { account: string; reason: string; blockNumber: number };
}

export function replayMeterEvents(events: readonly MeterEvent[]): Replay {
  const r: Replay = {
    commitments: new Map(),
    counts: { commits: 0, reveals: 0, expiries: 0, records: 0 },
    tenants: new Map(),
    usage: new Map(),
    lastSequence: new Map(),
    sequenceViolations: [],
  };
  const tenant = (id: number): TenantEntry => {
    let t = r.tenants.get(id);
    if (!t) {
      t = { name: `#${id}`, meters: new Map(), reporters: new Set() };
      r.tenants.set(id, t);
    }
    return t;
  };
  for (const e of events) {
    const a = e.args;
    switch (e.name) {
      case "TenantRegistered":
        tenant(Number(a.tenantId)).name = bytes32ToText(String(a.name) as `0x${string}`);
        break;
      case "MeterRegistered":
        tenant(Number(a.tenantId)).meters.set(Number(a.meterId), bytes32ToText(String(a.name) as `0x${string}`));
        break;
      case "ReporterAuthorized":
        tenant(Number(a.tenantId)).reporters.add(String(a.reporter));
        break;
      case "ReporterRevoked":
        tenant(Number(a.tenantId)).reporters.delete(String(a.reporter));
        break;
      case "PauseReason":
        r.lastPauseReason = { account: String(a.account), reason: String(a.reason), blockNumber: e.blockNumber };
        break;
      case "Committed": {
        const key = `${String(a.reporter).toLowerCase()}:${String(a.commitment)}`;
        r.commitments.set(key, {
          reporter: String(a.reporter),
          commitment: String(a.commitment),
          tenantId: Number(a.tenantId),
          committedAt: e.blockNumber,
          status: "committed",
        });
        r.counts.commits++;
        break;
      }
      case "CommitmentExpired": {
        const entry = r.commitments.get(`${String(a.reporter).toLowerCase()}:${String(a.commitment)}`);
        if (entry) entry.status = "expired";
        r.counts.expiries++;
        break;
      }
      case "UsageRevealed": {
        const tenantId = Number(a.tenantId);
        const reporter = String(a.reporter);
        const entry = r.commitments.get(`${reporter.toLowerCase()}:${String(a.commitment)}`);
        if (entry) entry.status = "revealed";
        r.counts.reveals++;
        const seqKey = `${tenantId}:${reporter.toLowerCase()}`;
        for (const record of a.records as Result) {
          const fields = decodeRecordWord(BigInt((record as Result)[0] as bigint));
          const previous = r.lastSequence.get(seqKey)?.sequence ?? 0n;
          if (fields.sequence <= previous) {
            r.sequenceViolations.push({ tenantId, reporter, sequence: fields.sequence, previous, txHash: e.txHash });
          } else {
            r.lastSequence.set(seqKey, { tenantId, reporter, sequence: fields.sequence });
          }
          const usageKey = `${tenantId}:${fields.meterId}`;
          const total = r.usage.get(usageKey) ?? { tenantId, meterId: fields.meterId, quantity: 0n, records: 0 };
          total.quantity += fields.quantity;
          total.records++;
          r.usage.set(usageKey, total);
          r.counts.records++;
        }
        break;
      }
    }
  }
  return r;
}

/** Commitments still `Committed` whose last reveal block is before `headBlock`: expirable by anyone. */
export function lapsedCommitments(state: Replay, headBlock: number, maxRevealDelay: number): CommitmentEntry[] {
  return [...state.commitments.values()].filter((c) => c.status === "committed" && headBlock > c.committedAt + maxRevealDelay);
}

// ------------------------------------------------------------------ audit

export interface ChainAuditOptions {
  provider: Provider;
  deployment: Deployment;
  /** Audit as of this block (default: latest). */
  blockTag?: number;
  /** The ABI hash of the contract this code was built against; a mismatch needs attention. */
  expectedAbiHash?: string;
  logChunkSize?: number;
  /**
   * Judge access control by production rules (a multi-signature admin, a non-zero admin delay, a
   * pauser that is not the admin). Defaults to on for every chain but a local development chain.
   */
  production?: boolean;
}

const ok = (label: string, summary: string, details?: Record<string, unknown>): AuditItem => ({
  label,
  status: "ok",
  summary,
  ...(details ? { details } : {}),
});
const attention = (label: string, summary: string, details?: Record<string, unknown>): AuditItem => ({
  label,
  status: "attention",
  summary,
  ...(details ? { details } : {}),
});

function isoTime(seconds: bigint | number): string {
  return new Date(Number(seconds) * 1000).toISOString();
}

export async function auditChain(options: ChainAuditOptions): Promise<AuditReport> {
  const { provider, deployment } = options;
  const head = await provider.getBlock(options.blockTag ?? "latest");
  if (!head || head.hash === null) throw new Error("cannot read the chain head");
  const blockTag = head.number;
  const chainId = Number((await provider.getNetwork()).chainId);
  const meter = new Contract(deployment.address, usageMeterAbi, provider) as unknown as UsageMeter;
  const at = { blockTag };

  const deploymentItems: AuditItem[] = [];
  const code = await provider.getCode(deployment.address, blockTag);
  const base: AuditReport = {
    chainId,
    contract: deployment.address,
    block: { number: head.number, hash: head.hash, timestamp: head.timestamp },
    generatedAt: new Date().toISOString(),
    sections: [{ id: "deployment", title: "Deployment", items: deploymentItems }],
  };
  if (chainId !== deployment.chainId) {
    deploymentItems.push(attention("chain", `deployment file is for chain ${deployment.chainId}, node is chain ${chainId}`));
    return base;
  }
  if (code === "0x") {
    deploymentItems.push(attention("code", `no contract at ${deployment.address} at block ${blockTag}`));
    return base;
  }
  deploymentItems.push(ok("code", `UsageMeter at ${deployment.address}, deployed in block ${deployment.deployBlock}`));
  const deployBlock = await provider.getBlock(deployment.deployBlock);
  deploymentItems.push(
    deployBlock?.hash?.toLowerCase() === deployment.deployBlockHash.toLowerCase()
      ? ok("deploy block", `block ${deployment.deployBlock} hash matches the deployment file`)
      : attention("deploy block", `block ${deployment.deployBlock} is ${deployBlock?.hash ?? "missing"}, file says ${deployment.deployBlockHash} (reorg or reset chain?)`),
  );
  if (options.expectedAbiHash !== undefined) {
    deploymentItems.push(
      options.expectedAbiHash.toLowerCase() === deployment.abiHash.toLowerCase()
        ? ok("abi", `ABI hash ${deployment.abiHash} matches this build`)
        : attention("abi", `deployed ABI ${deployment.abiHash} differs from this build's ${options.expectedAbiHash}`),
    );
  }

  const events = await fetchMeterEvents(provider, deployment.address, deployment.deployBlock, blockTag, options.logChunkSize);
  const state = replayMeterEvents(events);

  // ---- access control
  const accessItems: AuditItem[] = [];
  const [admin, [pendingAdmin, pendingSchedule], delay, [pendingDelay, pendingDelaySchedule]] = await Promise.all([
    meter.defaultAdmin(at),
    meter.pendingDefaultAdmin(at),
    meter.defaultAdminDelay(at),
    meter.pendingDefaultAdminDelay(at),
  ]);
  const production = options.production ?? !LOCAL_CHAIN_IDS.has(chainId);
  const adminIsContract = admin !== ZeroAddress && (await provider.getCode(admin, blockTag)) !== "0x";
  accessItems.push(
    admin === ZeroAddress
      ? attention("default admin", "none: the admin role was renounced, nobody can unpause or manage roles")
      : production && !adminIsContract
        ? attention("default admin", `${admin} is a single key (an externally owned account); use a Safe or another multi-signature wallet`, {
            admin,
            contract: false,
          })
        : ok("default admin", adminIsContract ? `${admin} (a contract wallet)` : admin, { admin, contract: adminIsContract }),
  );
  accessItems.push(
    delay === 0n && production
      ? attention("admin delay", "0 seconds: an admin transfer takes effect at once", { delay })
      : ok("admin delay", `${delay} seconds`, { delay }),
  );
  accessItems.push(
    pendingAdmin === ZeroAddress
      ? ok("pending admin transfer", "none")
      : ok("pending admin transfer", `to ${pendingAdmin}, acceptable after ${isoTime(pendingSchedule)}`, {
          newAdmin: pendingAdmin,
          schedule: pendingSchedule,
        }),
  );
  if (pendingDelaySchedule !== 0n) {
    accessItems.push(
      ok("pending delay change", `to ${pendingDelay} seconds, effective ${isoTime(pendingDelaySchedule)}`, {
        newDelay: pendingDelay,
        schedule: pendingDelaySchedule,
      }),
    );
  }
  for (const [role, holders] of roleHoldersFromEvents(events)) {
    const confirmed = await Promise.all(holders.map((h) => meter.hasRole(role, h, at)));
    const unconfirmed = holders.filter((_, i) => !confirmed[i]);
    const label = roleLabel(role);
    // The pauser is the fast emergency brake and the admin the slow, deliberate key: one account
    // holding both means one compromise both stops the meter and rewrites who may restart it.
    const pauserIsAdmin =
      production && role === ROLES.PAUSER_ROLE.toLowerCase() && admin !== ZeroAddress && holders.some((h) => h.toLowerCase() === admin.toLowerCase());
    accessItems.push(
      unconfirmed.length > 0
        ? attention(label, `events say ${unconfirmed.join(", ")} hold it but hasRole disagrees`, { holders, unconfirmed })
        : pauserIsAdmin
          ? attention(label, `${admin} is both the admin and a pauser; give PAUSER_ROLE to a separate wallet`, { holders })
          : ok(label, holders.length === 0 ? "no holders" : holders.join(", "), { holders }),
    );
  }

  // ---- pause
  const paused = await meter.paused(at);
  const reason = state.lastPauseReason;
  const pauseItems = [
    paused
      ? attention(
          "paused",
          `yes, since block ${reason?.blockNumber ?? "?"} by ${reason?.account ?? "?"}: "${reason?.reason ?? ""}"`,
          { paused, ...(reason ? { reason } : {}) },
        )
      : ok("paused", "no", { paused }),
  ];

  // ---- commitments
  const [minDelay, maxDelay] = await Promise.all([meter.MIN_REVEAL_DELAY(at), meter.MAX_REVEAL_DELAY(at)]);
  const min = Number(minDelay);
  const max = Number(maxDelay);
  const windowMatches = min === deployment.constructorArgs.minRevealDelay && max === deployment.constructorArgs.maxRevealDelay;
  const commitmentItems: AuditItem[] = [
    windowMatches
      ? ok("reveal window", `${min} to ${max} blocks after the commit`, { minRevealDelay: min, maxRevealDelay: max })
      : attention("reveal window", `contract has ${min}..${max} blocks, deployment file says ${deployment.constructorArgs.minRevealDelay}..${deployment.constructorArgs.maxRevealDelay}`),
  ];
  const entries = [...state.commitments.values()];
  const outstanding = entries.filter((c) => c.status === "committed" && blockTag <= c.committedAt + max);
  const lapsed = lapsedCommitments(state, blockTag, max);
  commitmentItems.push(
    ok(
      "counts",
      `${state.counts.commits} committed, ${state.counts.reveals} revealed (${state.counts.records} records), ${state.counts.expiries} expired, ${outstanding.length} outstanding`,
      { ...state.counts, outstanding: outstanding.length, lapsedUnexpired: lapsed.length },
    ),
  );
  for (const c of outstanding) {
    commitmentItems.push(
      ok(
        `outstanding ${c.commitment}`,
        `tenant ${c.tenantId}, reporter ${c.reporter}, committed in block ${c.committedAt}, revealable until block ${c.committedAt + max}`,
        { ...c, lastRevealBlock: c.committedAt + max },
      ),
    );
  }
  for (const c of lapsed) {
    commitmentItems.push(
      attention(
        `lapsed ${c.commitment}`,
        `tenant ${c.tenantId}, reporter ${c.reporter}: unrevealed past block ${c.committedAt + max} and not marked expired (anyone may expire it: meter:expire --all)`,
        { ...c, lastRevealBlock: c.committedAt + max },
      ),
    );
  }

  // ---- tenants and usage
  const tenantItems: AuditItem[] = [];
  for (const [id, t] of [...state.tenants].sort((a, b) => a[0] - b[0])) {
    const meters = [...t.meters].sort((a, b) => a[0] - b[0]).map(([mid, name]) => `${mid}:${name}`);
    tenantItems.push(
      ok(`tenant ${id} "${t.name}"`, `meters [${meters.join(", ")}], reporters [${[...t.reporters].join(", ")}]`, {
        tenantId: id,
        name: t.name,
        meters: Object.fromEntries(t.meters),
        reporters: [...t.reporters],
      }),
    );
  }

  const usageItems: AuditItem[] = [];
  const perTenant = new Map<number, { quantity: bigint; records: number }>();
  const totals = [...state.usage.values()].sort((a, b) => a.tenantId - b.tenantId || a.meterId - b.meterId);
  for (const u of totals) {
    const t = perTenant.get(u.tenantId) ?? { quantity: 0n, records: 0 };
    t.quantity += u.quantity;
    t.records += u.records;
    perTenant.set(u.tenantId, t);
  }
  for (const [tenantId, t] of perTenant) {
    const tenantName = state.tenants.get(tenantId)?.name ?? `#${tenantId}`;
    usageItems.push(ok(`tenant ${tenantId} "${tenantName}"`, `${t.quantity} total over ${t.records} records`, { tenantId, ...t }));
    for (const u of totals.filter((x) => x.tenantId === tenantId)) {
      const meterName = state.tenants.get(tenantId)?.meters.get(u.meterId) ?? `#${u.meterId}`;
      usageItems.push(
        ok(`tenant ${tenantId} meter ${u.meterId} "${meterName}"`, `${u.quantity} over ${u.records} records`, { ...u }),
      );
    }
  }
  for (const v of state.sequenceViolations) {
    usageItems.push(
      attention(
        `sequence tenant ${v.tenantId} reporter ${v.reporter}`,
        `sequence ${v.sequence} revealed after ${v.previous} in tx ${v.txHash}: possible double count`,
        { ...v },
      ),
    );
  }
  for (const s of state.lastSequence.values()) {
    const [, onChain] = await meter.getReporter(s.tenantId, s.reporter, at);
    if (onChain !== s.sequence) {
      usageItems.push(
        attention(
          `high-water mark tenant ${s.tenantId} reporter ${s.reporter}`,
          `events end at sequence ${s.sequence}, contract says ${onChain} (missing events?)`,
        ),
      );
    }
  }

  base.sections.push(
    { id: "access", title: "Access control", items: accessItems },
    { id: "pause", title: "Pause", items: pauseItems },
    { id: "commitments", title: "Commitments", items: commitmentItems },
    { id: "tenants", title: "Tenants", items: tenantItems },
    { id: "usage", title: "Usage totals (revealed)", items: usageItems },
  );
  return base;
}
