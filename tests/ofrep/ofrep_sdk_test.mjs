// cmo's OFREP endpoint through the real OpenFeature server SDK and its OFREP provider, as an
// app in another language would ask it: starts `cmo serve` on a fresh state dir, ramps an op
// to 25% through the CLI, then checks that for 100 subjects the SDK's answer (value, variant,
// reason, bucket) is the one `cmo decide` gives, that a critical op is strong for everyone,
// and that an unknown op falls back to the app's default with FLAG_NOT_FOUND.
//   node ofrep_sdk_test.mjs CMO_BINARY
import { OpenFeature } from "@openfeature/server-sdk";
import { OFREPProvider } from "@openfeature/ofrep-provider";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [cmo] = process.argv.slice(2);
if (!cmo) {
  console.error("usage: node ofrep_sdk_test.mjs CMO_BINARY");
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), "cmo-ofrep-"));
const state = join(dir, "state");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cli = (...args) => execFileSync(cmo, ["--state-dir", state, ...args], {
  encoding: "utf8", env: { ...process.env, CMO_ACTOR: "ofrep-test" } });

let serve;
let failed = false;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failed = true;
}
try {
  cli("ops", "add", "post.like", "--domain", "likes", "--target", "eventual");
  cli("ops", "add", "payment.transfer", "--domain", "payments", "--class", "critical", "--target", "strong");
  serve = spawn(cmo, ["--state-dir", state, "serve", "--listen", "127.0.0.1:0", "--regions", "eu-west"],
                { stdio: ["ignore", "inherit", "inherit"] });
  const urlFile = join(state, "api-url");
  for (let i = 0; i < 200 && !existsSync(urlFile); i++) await sleep(100);
  check(existsSync(urlFile), "cmo serve wrote its API address");
  const url = readFileSync(urlFile, "utf8").trim();
  const remote = ["--server", url, "--token-file", join(state, "api-token")];
  cli("advance", "post.like", "--reason", "dual-write likes", ...remote);
  cli("advance", "post.like", "--sample", "5%", "--reason", "shadow 5%", ...remote);
  cli("ramp", "post.like", "--to", "25%", "--reason", "ramp", "--confirm", ...remote);

  await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: url }));
  const client = OpenFeature.getClient();
  let same = 0;
  let eventual = 0;
  const subjects = 100;
  for (let u = 0; u < subjects; u++) {
    const subject = `user-${u}`;
    const got = await client.getStringDetails("post.like", "strong", { targetingKey: subject });
    const want = JSON.parse(cli("--output", "json", "decide", "post.like", subject, ...remote));
    if (got.value === want.path && got.variant === want.path && got.reason === "SPLIT" &&
        got.flagMetadata.bucket === want.bucket && got.errorCode === undefined) {
      same++;
    } else {
      console.log(`  ${subject}: SDK ${JSON.stringify(got)} vs cmo decide ${JSON.stringify(want)}`);
    }
    if (got.value === "eventual") eventual++;
  }
  check(same === subjects, `the SDK agrees with cmo decide for ${same} of ${subjects} subjects`);
  check(eventual > 10 && eventual < 45, `about a quarter routed eventual (${eventual} of ${subjects})`);
  const critical = await client.getStringDetails("payment.transfer", "eventual", { targetingKey: "user-1" });
  check(critical.value === "strong" && critical.reason === "STATIC",
        `a critical op is strong for everyone (${critical.value}, ${critical.reason})`);
  const unknown = await client.getStringDetails("post.nope", "strong", { targetingKey: "user-1" });
  check(unknown.value === "strong" && unknown.errorCode === "FLAG_NOT_FOUND",
        `an unknown op falls back to the app's default (${unknown.value}, ${unknown.errorCode})`);
} catch (e) {
  console.log(`FAIL ${e.stack || e}`);
  failed = true;
} finally {
  await OpenFeature.close();
  if (serve) {
    serve.kill("SIGTERM");
    await new Promise((r) => serve.on("exit", r));
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
