import { readFile } from "node:fs/promises";
import { task } from "hardhat/config";
import { createPublicClient, createWalletClient, custom, getAddress, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { reportingErrors, mineUntil, parseRelayPayload, relayPayload } from "../../reporter";
import { createReporterLogger, reporterLogSettings } from "../../reporter/logger";


/**
 * meter:relay — submits a reporter's EIP-712 signed commits (from `--relay`) with
 * commitWithSignature and then reveals them, paying the gas from the relayer's account:
 * METERLINE_PRIVATE_KEY, else the node's first account.
 */
task("meter:relay", "Relays signed commit payloads (commitWithSignature) and their reveals")
  .addPositionalParam("payload", "payload file written by the reporter with --relay")
  .setAction((args: { payload: string }, hre) => reportingErrors("meter:relay", async () => {
    const payload = parseRelayPayload(await readFile(args.payload, "utf8"));
    const transport = custom(hre.network.provider);
    const publicClient = createPublicClient({ transport });
    const key = process.env.METERLINE_PRIVATE_KEY;
    let account: Address | ReturnType<typeof privateKeyToAccount>;
    if (key) account = privateKeyToAccount((key.startsWith("0x") ? key : `0x${key}`) as `0x${string}`);
    else {
      const [first] = (await hre.network.provider.request({ method: "eth_accounts" })) as string[];
      if (!first) throw new Error(`network ${hre.network.name} exposes no accounts; set METERLINE_PRIVATE_KEY`);
      account = getAddress(first);
    }
    const walletClient = createWalletClient({ account, transport });
    const result = await relayPayload(payload, {
      publicClient,
      walletClient,
      logger: createReporterLogger("meter:relay", reporterLogSettings(process.env)),
      waitForBlock:
        hre.network.name === "hardhat"
          ? mineUntil(publicClient)
          : async (block) => {
              while ((await publicClient.getBlockNumber({ cacheTime: 0 })) < block) await new Promise((r) => setTimeout(r, 1000));
            },
    });
    console.log(JSON.stringify(result));
    return result;
  }));
