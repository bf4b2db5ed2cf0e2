import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import type { Signer } from "ethers";
import { recoverAddress } from "viem";
import type { ERC1271WalletMock, UsageMeter } from "../../scripts/typechain-types";
import {
  COMMIT_TYPES,
  MIN_DELAY,
  TENANT_A,
  TENANT_B,
  meterFixture,
  randomSalt,
  record,
  signCommit,
  twoMetersFixture,
  type CommitMessage,
} from "./fixtures";

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** A message for `reporter`'s current nonce with a deadline an hour ahead. */
async function message(
  meter: UsageMeter,
  reporter: string,
  overrides: Partial<CommitMessage> = {},
): Promise<CommitMessage> {
  return {
    reporter,
    tenantId: TENANT_A,
    commitment: ethers.id(`commit-${randomSalt()}`),
    nonce: await meter.nonces(reporter),
    deadline: BigInt((await time.latest()) + 3600),
    ...overrides,
  };
}

function submit(meter: UsageMeter, relayer: Signer, m: CommitMessage, signature: string) {
  return meter.connect(relayer).commitWithSignature(m.reporter, m.tenantId, m.commitment, m.deadline, signature);
}

/** The same ECDSA signature in its other (high-s) form: s' = n - s, v flipped. */
function malleate(signature: string): string {
  const bytes = ethers.getBytes(signature);
  const r = bytes.slice(0, 32);
  const s = ethers.toBigInt(bytes.slice(32, 64));
  const v = bytes[64] === 27 ? 28 : 27;
  return ethers.concat([r, ethers.toBeHex(SECP256K1_N - s, 32), new Uint8Array([v])]);
}

describe("UsageMeter signed commits (EIP-712)", function () {
  describe("EOA reporter", function () {
    it("a relayer submits a reporter's signed commit; the event names the relayer and the nonce is used", async function () {
      const { meter, reporter, relayer, chainId } = await loadFixture(meterFixture);
      const recs = [record({ sequence: 1 })];
      const salt = randomSalt();
      const commitment = await meter.commitmentHash(reporter.address, TENANT_A, salt, recs);
      const m = await message(meter, reporter.address, { commitment });
      expect(m.nonce).to.equal(0n);
      const sig = await signCommit(reporter, await meter.getAddress(), chainId, m);

      await expect(submit(meter, relayer, m, sig))
        .to.emit(meter, "Committed")
        .withArgs(TENANT_A, reporter.address, commitment, relayer.address);
      expect(await meter.nonces(reporter.address)).to.equal(1n);
      const stored = await meter.getCommitment(reporter.address, commitment);
      expect([stored.status, stored.tenantId]).to.deep.equal([1n, BigInt(TENANT_A)]);

      // The relayed commitment is the reporter's own: it reveals like any other.
      await mine(MIN_DELAY);
      await expect(meter.connect(relayer).reveal(TENANT_A, reporter.address, salt, recs)).to.emit(
        meter,
        "UsageRevealed",
      );
    });

    it("a signature is used at most once (replay fails on the consumed nonce)", async function () {
      const { meter, reporter, relayer, outsider, chainId } = await loadFixture(meterFixture);
      const m = await message(meter, reporter.address);
      const sig = await signCommit(reporter, await meter.getAddress(), chainId, m);
      await submit(meter, relayer, m, sig);
      for (const who of [relayer, outsider]) {
        await expect(submit(meter, who, m, sig))
          .to.be.revertedWithCustomError(meter, "InvalidSignature")
          .withArgs(reporter.address);
      }
      // Signing for a future nonce doesn't work either: the nonce must be the current one.
      const ahead = await message(meter, reporter.address, { nonce: 5n });
      await expect(submit(meter, relayer, ahead, await signCommit(reporter, await meter.getAddress(), chainId, ahead)))
        .to.be.revertedWithCustomError(meter, "InvalidSignature")
        .withArgs(reporter.address);
    });

    it("the deadline is inclusive; one second later the signature has expired", async function () {
      const { meter, reporter, relayer, chainId } = await loadFixture(meterFixture);
      const deadline = BigInt((await time.latest()) + 100);
      const late = await message(meter, reporter.address, { deadline });
      const lateSig = await signCommit(reporter, await meter.getAddress(), chainId, late);
      await time.setNextBlockTimestamp(deadline + 1n);
      await expect(submit(meter, relayer, late, lateSig))
        .to.be.revertedWithCustomError(meter, "SignatureExpired")
        .withArgs(deadline);

      const deadline2 = BigInt((await time.latest()) + 100);
      const onTime = await message(meter, reporter.address, { deadline: deadline2 });
      const onTimeSig = await signCommit(reporter, await meter.getAddress(), chainId, onTime);
      await time.setNextBlockTimestamp(deadline2);
      await expect(submit(meter, relayer, onTime, onTimeSig)).to.emit(meter, "Committed");
    });

    it("rejects a signature by anyone but the reporter", async function () {
      const { meter, reporter, reporter3, outsider, relayer, chainId } = await loadFixture(meterFixture);
      const m = await message(meter, reporter.address);
      for (const wrong of [outsider, reporter3, relayer]) {
        await expect(submit(meter, relayer, m, await signCommit(wrong, await meter.getAddress(), chainId, m)))
          .to.be.revertedWithCustomError(meter, "InvalidSignature")
          .withArgs(reporter.address);
      }
      expect(await meter.nonces(reporter.address)).to.equal(0n);
    });

    it("rejects a signature whose message differs from the submitted call", async function () {
      const { meter, reporter3, relayer, chainId } = await loadFixture(meterFixture);
      const m = await message(meter, reporter3.address);
      const sig = await signCommit(reporter3, await meter.getAddress(), chainId, m);
      const tampered: CommitMessage[] = [
        { ...m, commitment: ethers.id("other") },
        { ...m, tenantId: TENANT_B },
        { ...m, deadline: m.deadline + 1n },
      ];
      for (const t of tampered) {
        await expect(submit(meter, relayer, t, sig))
          .to.be.revertedWithCustomError(meter, "InvalidSignature")
          .withArgs(reporter3.address);
      }
      await expect(submit(meter, relayer, m, sig)).to.emit(meter, "Committed");
    });

    it("a signature for another chain, contract, name or version is rejected", async function () {
      const { meter, other, reporter, relayer, chainId } = await loadFixture(twoMetersFixture);
      const here = await meter.getAddress();
      const there = await other.getAddress();
      const m = await message(meter, reporter.address);
      const foreign = [
        await signCommit(reporter, here, chainId, m, { chainId: 1n }),
        await signCommit(reporter, here, chainId, m, { verifyingContract: there }),
        await signCommit(reporter, here, chainId, m, { name: "UsageMeter2" }),
        await signCommit(reporter, here, chainId, m, { version: "2" }),
      ];
      for (const sig of foreign) {
        await expect(submit(meter, relayer, m, sig))
          .to.be.revertedWithCustomError(meter, "InvalidSignature")
          .withArgs(reporter.address);
      }
      // The one signed for `other` is valid there, and only there.
      await expect(submit(other, relayer, m, foreign[1] as string)).to.emit(other, "Committed");
      await expect(submit(meter, relayer, m, await signCommit(reporter, here, chainId, m))).to.emit(meter, "Committed");
    });

    it("rejects the malleated (high-s) twin of a valid signature, and garbage", async function () {
      const { meter, reporter, relayer, chainId } = await loadFixture(meterFixture);
      const m = await message(meter, reporter.address);
      const sig = await signCommit(reporter, await meter.getAddress(), chainId, m);
      const twin = malleate(sig);
      expect(twin).to.not.equal(sig);
      // The twin is a working signature for plain ecrecover; only the contract's low-s rule stops it.
      const domain = { name: "UsageMeter", version: "1", chainId, verifyingContract: await meter.getAddress() };
      const digest = ethers.TypedDataEncoder.hash(domain, { Commit: [...COMMIT_TYPES.Commit] }, m) as `0x${string}`;
      expect(await recoverAddress({ hash: digest, signature: twin as `0x${string}` })).to.equal(reporter.address);
      await expect(submit(meter, relayer, m, twin))
        .to.be.revertedWithCustomError(meter, "InvalidSignature")
        .withArgs(reporter.address);
      for (const garbage of ["0x", ethers.dataSlice(sig, 0, 64), ethers.concat([sig, "0x00"]), ethers.ZeroHash]) {
        await expect(submit(meter, relayer, m, garbage))
          .to.be.revertedWithCustomError(meter, "InvalidSignature")
          .withArgs(reporter.address);
      }
      // Nothing above consumed the nonce: the canonical signature still works.
      await expect(submit(meter, relayer, m, sig)).to.emit(meter, "Committed");
    });

    it("a valid signature doesn't bypass authorization or commit checks", async function () {
      const { meter, reporter, manager, relayer, chainId } = await loadFixture(meterFixture);
      const address = await meter.getAddress();
      const forB = await message(meter, reporter.address, { tenantId: TENANT_B });
      await expect(submit(meter, relayer, forB, await signCommit(reporter, address, chainId, forB)))
        .to.be.revertedWithCustomError(meter, "ReporterNotAuthorized")
        .withArgs(TENANT_B, reporter.address);
      const zero = await message(meter, reporter.address, { commitment: ethers.ZeroHash });
      await expect(
        submit(meter, relayer, zero, await signCommit(reporter, address, chainId, zero)),
      ).to.be.revertedWithCustomError(meter, "InvalidCommitment");
      await meter.connect(manager).revokeReporter(TENANT_A, reporter.address);
      const revoked = await message(meter, reporter.address);
      await expect(submit(meter, relayer, revoked, await signCommit(reporter, address, chainId, revoked)))
        .to.be.revertedWithCustomError(meter, "ReporterNotAuthorized")
        .withArgs(TENANT_A, reporter.address);
      expect(await meter.nonces(reporter.address)).to.equal(0n);
    });
  });

  describe("ERC-1271 wallet reporter", function () {
    async function walletFixture() {
      const base = await meterFixture();
      const [, , , , , , , , walletOwner] = base.signers;
      if (!walletOwner) throw new Error("not enough signers");
      const factory = await ethers.getContractFactory("ERC1271WalletMock");
      const wallet = (await factory.deploy(walletOwner.address)) as unknown as ERC1271WalletMock;
      const walletAddress = await wallet.getAddress();
      await base.meter.connect(base.manager).authorizeReporter(TENANT_A, walletAddress);
      return { ...base, wallet, walletAddress, walletOwner };
    }

    it("commits with the owner's signature through ERC-1271, and the records reveal", async function () {
      const { meter, walletAddress, walletOwner, relayer, outsider, chainId } = await loadFixture(walletFixture);
      const recs = [record({ sequence: 1 })];
      const salt = randomSalt();
      const commitment = await meter.commitmentHash(walletAddress, TENANT_A, salt, recs);
      const m = await message(meter, walletAddress, { commitment });
      const sig = await signCommit(walletOwner, await meter.getAddress(), chainId, m);
      await expect(submit(meter, relayer, m, sig))
        .to.emit(meter, "Committed")
        .withArgs(TENANT_A, walletAddress, commitment, relayer.address);
      expect(await meter.nonces(walletAddress)).to.equal(1n);
      await expect(submit(meter, relayer, m, sig))
        .to.be.revertedWithCustomError(meter, "InvalidSignature")
        .withArgs(walletAddress);
      await mine(MIN_DELAY);
      await expect(meter.connect(outsider).reveal(TENANT_A, walletAddress, salt, recs)).to.emit(meter, "UsageRevealed");
    });

    it("rejects a signature by anyone but the wallet's owner", async function () {
      const { meter, walletAddress, reporter, relayer, chainId } = await loadFixture(walletFixture);
      const m = await message(meter, walletAddress);
      await expect(submit(meter, relayer, m, await signCommit(reporter, await meter.getAddress(), chainId, m)))
        .to.be.revertedWithCustomError(meter, "InvalidSignature")
        .withArgs(walletAddress);
    });

    it("the wallet can also commit directly as msg.sender", async function () {
      const { meter, wallet, walletAddress, walletOwner, outsider } = await loadFixture(walletFixture);
      const commitment = ethers.id("direct");
      const data = meter.interface.encodeFunctionData("commit", [TENANT_A, commitment]);
      await expect(wallet.connect(outsider).execute(await meter.getAddress(), data)).to.be.revertedWithCustomError(
        wallet,
        "NotOwner",
      );
      await expect(wallet.connect(walletOwner).execute(await meter.getAddress(), data))
        .to.emit(meter, "Committed")
        .withArgs(TENANT_A, walletAddress, commitment, walletAddress);
    });
  });
});
