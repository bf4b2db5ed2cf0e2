/**
 * docs/security.md, "What the chain reveals", lists every kind of value Meterline's contracts put
 * on chain (event fields and transaction inputs, both public). This test holds the contracts to
 * that list: a field of a kind the page does not name fails here until the page says what it
 * reveals.
 */
import { expect } from "chai";
import type { Abi, AbiParameter } from "viem";
import { invoiceAnchorAbi, usageMeterAbi } from "../../chain/abi.generated";

/** Field name -> the row of docs/security.md's table that covers it. */
const DISCLOSED: Record<string, string> = {
  tenantId: "tenant and meter ids and counts",
  meterId: "tenant and meter ids and counts",
  name: "names: keyed hashes only",
  records: "usage records",
  reporter: "reporter, relayer, biller and role-holder addresses",
  relayer: "reporter, relayer, biller and role-holder addresses",
  biller: "reporter, relayer, biller and role-holder addresses",
  account: "reporter, relayer, biller and role-holder addresses",
  sender: "reporter, relayer, biller and role-holder addresses",
  newAdmin: "reporter, relayer, biller and role-holder addresses",
  role: "reporter, relayer, biller and role-holder addresses",
  previousAdminRole: "reporter, relayer, biller and role-holder addresses",
  newAdminRole: "reporter, relayer, biller and role-holder addresses",
  commitment: "commitments, salts and signatures",
  salt: "commitments, salts and signatures",
  signature: "commitments, salts and signatures",
  deadline: "commitments, salts and signatures",
  planHash: "plans: hashes and effective times only",
  effectiveFrom: "plans: hashes and effective times only",
  contentHash: "invoices and credit notes: hashes, numbers and periods only",
  previousHash: "invoices and credit notes: hashes, numbers and periods only",
  kind: "invoices and credit notes: hashes, numbers and periods only",
  number: "invoices and credit notes: hashes, numbers and periods only",
  periodStart: "invoices and credit notes: hashes, numbers and periods only",
  periodEnd: "invoices and credit notes: hashes, numbers and periods only",
  reason: "pause reasons (free text)",
  newDelay: "administration settings",
  effectSchedule: "administration settings",
  acceptSchedule: "administration settings",
  data: "multicall: its inner calls, each one of the above",
};

function fields(abi: Abi): { where: string; param: AbiParameter }[] {
  const out: { where: string; param: AbiParameter }[] = [];
  for (const item of abi) {
    if (item.type === "event") for (const p of item.inputs) out.push({ where: `event ${item.name}`, param: p });
    if (item.type === "function" && item.stateMutability !== "view" && item.stateMutability !== "pure") {
      for (const p of item.inputs) out.push({ where: `${item.name}()`, param: p });
    }
  }
  return out;
}

describe("chain disclosure: what UsageMeter and InvoiceAnchor put on chain", function () {
  const all = [...fields(usageMeterAbi as Abi), ...fields(invoiceAnchorAbi as Abi)];

  it("every event field and transaction input is of a kind docs/security.md lists", function () {
    const unlisted = all.filter((f) => !(f.param.name! in DISCLOSED)).map((f) => `${f.where}: ${f.param.name}`);
    expect(unlisted).to.deep.equal([]);
  });

  it("names are bytes32 (room for a keyed hash, never free text); the only free text is a pause reason", function () {
    for (const f of all.filter((x) => x.param.name === "name")) expect(f.param.type, f.where).to.equal("bytes32");
    const strings = all.filter((f) => f.param.type === "string" || f.param.type === "bytes").map((f) => `${f.where}: ${f.param.name}`);
    expect(strings).to.deep.equal(["event PauseReason: reason", "commitWithSignature(): signature", "pause(): reason"]);
  });

  it("a usage record is numbers and a 32-byte ref, nothing else", function () {
    const records = all.filter((f) => f.param.name === "records");
    expect(records.length).to.be.greaterThan(0);
    for (const f of records) {
      const components = (f.param as { components?: readonly AbiParameter[] }).components ?? [];
      expect(components.map((c) => `${c.name}:${c.type}`), f.where).to.deep.equal(["packed:uint256", "ref:bytes32"]);
    }
  });

  it("plans and billing documents appear only as hashes, numbers and times", function () {
    const anchor = fields(invoiceAnchorAbi as Abi).filter((f) => /Anchored|anchor/.test(f.where));
    const types = new Set(anchor.map((f) => f.param.type));
    expect([...types].sort()).to.deep.equal(["address", "bytes32", "uint32", "uint64", "uint8"]);
  });
});
