import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { custom } from "viem";
import hre from "hardhat";
import { ReporterConfigError, exitCodeOf, parseReporterConfig, runReporter } from "../../reporter";
import { hardhatKey, silentLogger } from "./helpers";

describe("reporter: the tenant's name key setting", function () {
  const base = { METERLINE_REPORTER_KEY: hardhatKey(1) };

  it("takes METERLINE_NAME_KEY, or --name-key env:|file:, and refuses the key itself on the command line without echoing it", function () {
    expect(parseReporterConfig(base, ["u.csv"]).nameKey).to.equal(undefined);
    const hex = `0x${"ab".repeat(32)}`;
    expect(parseReporterConfig({ ...base, METERLINE_NAME_KEY: hex }, ["u.csv"]).nameKey).to.deep.equal({ setting: "METERLINE_NAME_KEY", text: hex });
    expect(parseReporterConfig({ ...base, OTHER: hex }, ["u.csv", "--name-key", "env:OTHER"]).nameKey).to.deep.equal({ setting: "--name-key", text: hex });
    expect(parseReporterConfig({ ...base, METERLINE_NAME_KEY: hex }, ["u.csv", "--name-key", "file:/etc/k"]).nameKey).to.deep.equal({ setting: "--name-key", file: "/etc/k" });
    expect(() => parseReporterConfig(base, ["u.csv", "--name-key", "env:UNSET_VAR"])).to.throw(ReporterConfigError, /^--name-key: environment variable UNSET_VAR is not set$/);
    const key = `0x${randomBytes(32).toString("hex")}`;
    let error: unknown;
    try {
      parseReporterConfig(base, ["u.csv", "--name-key", key]);
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(ReporterConfigError);
    expect((error as Error).message).to.match(/^--name-key: give env:<VARIABLE> or file:<path>, not the key itself/);
    expect((error as Error).message).to.not.contain(key.slice(2));
  });

  it("a key too short to hide names is a settings error (exit 2) naming the variable, before anything is sent", async function () {
    const config = parseReporterConfig({ ...base, METERLINE_NAME_KEY: "0x0011223344" }, ["--resume"]);
    let error: unknown;
    await runReporter(config, { transport: custom(hre.network.provider), logger: silentLogger }).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(ReporterConfigError);
    expect((error as Error).message).to.equal("METERLINE_NAME_KEY: the name key must be at least 16 bytes");
    expect(exitCodeOf(error)).to.equal(2);

    let unreadable: unknown;
    await runReporter(parseReporterConfig(base, ["--resume", "--name-key", "file:/nonexistent/acme.key"]), { transport: custom(hre.network.provider), logger: silentLogger }).catch(
      (e: unknown) => (unreadable = e),
    );
    expect((unreadable as Error).message).to.equal("--name-key: cannot read /nonexistent/acme.key: ENOENT");
    expect(exitCodeOf(unreadable)).to.equal(2);
  });
});
