// What the node tests share: a fresh state dir, the cmo CLI on it, checks printed as ok/FAIL,
// and `cmo serve` with post.like ramped to a percent and a critical op (payment.transfer).
// No npm dependency: each test directory imports it by path.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class CmoServe {
  constructor(cmo, name) {
    this.cmo = cmo;
    this.actor = `${name}-test`;
    this.dir = mkdtempSync(join(tmpdir(), `cmo-${name}-`));
    this.state = join(this.dir, "state");
    this.failed = false;
    this.serve = null;
    this.url = "";
    this.remote = [];  // the CLI flags that send a command to the running server
  }

  cli(...args) {
    return execFileSync(this.cmo, ["--state-dir", this.state, ...args], {
      encoding: "utf8", env: { ...process.env, CMO_ACTOR: this.actor } });
  }

  check(ok, what) {
    console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
    if (!ok) this.failed = true;
  }

  // Adds the ops, starts `cmo serve` for `regions` ("eu-west,us-east") and takes post.like
  // through dual_write and shadow to a ramp of `percent` ("10%") through its API.
  async start(regions, percent) {
    this.cli("ops", "add", "post.like", "--domain", "likes", "--target", "eventual");
    this.cli("ops", "add", "payment.transfer", "--domain", "payments", "--class", "critical",
             "--target", "strong");
    this.serve = spawn(this.cmo, ["--state-dir", this.state, "serve", "--listen", "127.0.0.1:0",
                                  "--regions", regions], { stdio: ["ignore", "inherit", "inherit"] });
    const urlFile = join(this.state, "api-url");
    for (let i = 0; i < 200 && !existsSync(urlFile); i++) await sleep(100);
    this.check(existsSync(urlFile), "cmo serve wrote its API address");
    this.url = readFileSync(urlFile, "utf8").trim();
    this.remote = ["--server", this.url, "--token-file", join(this.state, "api-token")];
    await this.waitCaughtUp();
    this.cli("advance", "post.like", "--reason", "dual-write likes", ...this.remote);
    this.cli("advance", "post.like", "--sample", "5%", "--reason", "shadow 5%", ...this.remote);
    this.cli("ramp", "post.like", "--to", percent, "--reason", "first ramp", "--confirm",
             ...this.remote);
    return this.url;
  }

  // Waits until every region has applied a heartbeat. Until then the budget counts a region
  // as behind since the start, so on a loaded machine an op moved too early would trip its
  // breaker on the replication lag and the test would see strong where it expects a split.
  async waitCaughtUp() {
    let regions = [];
    for (let i = 0; i < 600; i++) {
      try {
        const res = await fetch(`${this.url}/v1/status`);
        regions = (await res.json()).regions || [];
        if (regions.length > 0 && regions.every((r) => r.caught_up_age_ms !== null)) break;
      } catch (e) {
        regions = [String(e)];
      }
      await sleep(100);
    }
    this.check(regions.length > 0 && regions.every((r) => r.caught_up_age_ms !== null),
               `every region applied a heartbeat (${JSON.stringify(regions)})`);
  }

  // Stops `cmo serve` (SIGTERM, waiting for its exit) and removes the state dir.
  async stop() {
    if (this.serve) {
      this.serve.kill("SIGTERM");
      if (this.serve.exitCode === null) await new Promise((r) => this.serve.once("exit", r));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
