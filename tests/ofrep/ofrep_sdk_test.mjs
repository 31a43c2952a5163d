// cmo's OFREP endpoint through the real OpenFeature server SDK and its OFREP provider, as an
// app in another language would ask it: starts `cmo serve` on a fresh state dir, ramps an op
// to 25% through the CLI, then checks that for 100 subjects the SDK's answer (value, variant,
// reason, bucket) is the one `cmo decide` gives, that a critical op is strong for everyone,
// and that an unknown op falls back to the app's default with FLAG_NOT_FOUND.
//   node ofrep_sdk_test.mjs CMO_BINARY
import { OpenFeature } from "@openfeature/server-sdk";
import { OFREPProvider } from "@openfeature/ofrep-provider";
import { CmoServe } from "../js/cmo_serve.mjs";

const [cmo] = process.argv.slice(2);
if (!cmo) {
  console.error("usage: node ofrep_sdk_test.mjs CMO_BINARY");
  process.exit(2);
}
const t = new CmoServe(cmo, "ofrep");
const check = (ok, what) => t.check(ok, what);

try {
  const url = await t.start("eu-west", "25%");
  // Which path a user is on is user-level data: the app holds a viewer token.
  const viewer = t.cli("token", "create", "feed-service", "--role", "viewer", ...t.remote).trim();
  const denied = await fetch(`${url}/ofrep/v1/evaluate/flags/post.like`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ context: { targetingKey: "user-1" } }) });
  check(denied.status === 401, `OFREP without a token is refused (${denied.status})`);
  await OpenFeature.setProviderAndWait(
    new OFREPProvider({ baseUrl: url, headers: { Authorization: `Bearer ${viewer}` } }));
  const client = OpenFeature.getClient();
  let same = 0;
  let eventual = 0;
  const subjects = 100;
  for (let u = 0; u < subjects; u++) {
    const subject = `user-${u}`;
    const got = await client.getStringDetails("post.like", "strong", { targetingKey: subject });
    const want = JSON.parse(t.cli("--output", "json", "decide", "post.like", subject, ...t.remote));
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
  t.failed = true;
} finally {
  await OpenFeature.close();
  await t.stop();
}
process.exit(t.failed ? 1 : 0);
