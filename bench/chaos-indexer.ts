/**
 * npm run chaos:indexer — SIGKILLs the indexer (a child process) at random moments while the chain
 * grows and reorganizes, then checks the database against the chain. CHAOS_KILLS sets the number
 * of kills (default 30). Last line: chaos kills=<n> reorgs=<n> lost=<n> duplicated=<n>
 */
import hre from "hardhat";
import { runChaos } from "../test/indexer/helpers/chaos";

async function main(): Promise<void> {
  const kills = Number(process.env.CHAOS_KILLS ?? 30);
  const started = Date.now();
  const r = await runChaos(hre, { kills, historyRounds: 40, log: (l) => console.log(l) });
  console.log(`chaos: ${r.records} records on chain, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const p of r.problems) console.log(`chaos problem: ${p}`);
  console.log(`chaos kills=${r.kills} reorgs=${r.reorgs} lost=${r.lost} duplicated=${r.duplicated}`);
  if (r.lost !== 0 || r.duplicated !== 0 || r.problems.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
