// The Warden console in a real browser: Debian's Chromium driven by playwright-core, the agent a
// real MCP client (the official TypeScript SDK) talking to `warden serve`. Every page is checked
// with axe-core and photographed into $WARDEN_SCREENSHOTS (default target/console-screenshots).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { chromium } from "playwright-core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const WARDEN = process.env.WARDEN_BIN || join(root, "target/debug/warden");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.WARDEN_SCREENSHOTS || join(root, "target/console-screenshots");
mkdirSync(SHOTS, { recursive: true });

const dir = mkdtempSync(join(tmpdir(), "warden-console-"));
const config = join(dir, "warden.toml");
let port;
let gateway;
let base;
let browser;

function freePort() {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });
}

function writeConfig(timeoutSecs) {
  writeFileSync(
    config,
    `[gateway]\nlisten = "127.0.0.1:${port}"\n\n[audit]\npath = "audit.db"\n\n[approvals]\ntimeout_secs = ${timeoutSecs}\nprogress_secs = 1\n\n[anomaly]\nlearn_calls = 3\nlearn_hours = 0.0002\nsuspend_at = "never"\n`,
  );
}

function warden(args, input) {
  return execFileSync(WARDEN, [...args, "--config", config], { input, encoding: "utf8" });
}

function startGateway() {
  return new Promise((ok, fail) => {
    const child = spawn(WARDEN, ["serve", "--config", config], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, WARDEN_LOG: "warn" },
    });
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/serving MCP at (\S+)/);
      if (m && !child.ready) {
        child.ready = true;
        ok({ child, url: m[1] });
      }
    });
    child.on("exit", (code) => {
      if (!child.ready) fail(new Error(`warden serve exited with ${code}: ${buf}`));
    });
  });
}

function stopGateway(signal = "SIGTERM") {
  return new Promise((ok) => {
    if (!gateway || gateway.exitCode !== null) return ok();
    gateway.once("exit", () => ok());
    gateway.kill(signal);
  });
}

async function agent(tokenText) {
  const client = new Client({ name: "shop-agent", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${tokenText}` } },
  });
  await client.connect(transport);
  return client;
}

function refund(client, amount, order) {
  return client.callTool(
    { name: "demo__refund", arguments: { order_id: order, amount } },
    undefined,
    { timeout: 120_000, resetTimeoutOnProgress: true, onprogress: () => {} },
  );
}

const text = (result) => result.content?.[0]?.text ?? "";

async function checkA11y(page, name) {
  await page.addScriptTag({ path: AXE });
  const results = await page.evaluate(async () => await window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
  }));
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `${name}: accessibility violations`,
  );
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(page, name, password) {
  await page.goto(`${base}/console/approvals`);
  await page.waitForURL(/\/console\/login/);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/console\/approvals$/);
}

/** Opens the pending request for `amount` and returns its id. */
async function openPending(page, amount) {
  for (let i = 0; i < 100; i++) {
    await page.goto(`${base}/console/approvals`);
    const row = page.locator("tbody tr", { hasText: `"amount":${amount}` });
    if (await row.count() > 0) {
      await row.first().getByRole("link", { name: /Review/ }).click();
      await page.waitForURL(/\/console\/approvals\/apr_/);
      return page.url().split("/").pop();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no pending request for ${amount}`);
}

before(async () => {
  port = await freePort();
  writeConfig(300);
  warden(["agent", "add", "shop-agent"]);
  warden(["approver", "add", "alice", "--group", "finance"], "alice-long-password");
  warden(["approver", "add", "root", "--group", "*"], "root-long-password");
  ({ child: gateway, url: base } = await startGateway());
  base = base.replace(/\/mcp$/, "");
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await stopGateway();
});

test("held refunds are approved and denied in the console; restart and expiry", async () => {
  const token = warden(["token", "issue", "shop-agent", "--ttl", "30m"]).trim();
  const client = await agent(token);
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();

  // 30 passes without anyone.
  const small = await refund(client, 30, "A-1");
  assert.equal(small.isError, false, text(small));
  assert.match(text(small), /refunded 30/);

  // 80 is held until alice approves it in the browser.
  const held = refund(client, 80, "A-2");
  await page.goto(`${base}/console/login`);
  await checkA11y(page, "01-login");
  await signIn(page, "alice", "alice-long-password");
  const id = await openPending(page, 80);
  await checkA11y(page, "03-approval-detail");
  await page.goto(`${base}/console/approvals`);
  await checkA11y(page, "02-approvals");
  await page.goto(`${base}/console/approvals/${id}`);

  // A tampered hash (the page edited under the approver) changes nothing.
  await page.evaluate(() => {
    const h = document.querySelector("input[name=call_hash]");
    h.value = (h.value.startsWith("0") ? "1" : "0") + h.value.slice(1);
  });
  await page.getByRole("button", { name: "Approve this call" }).click();
  await page.getByText(/does not match/).waitFor();

  await page.goto(`${base}/console/approvals/${id}`);
  await page.getByLabel(/Reason/).fill("order checked with the customer");
  await page.getByRole("button", { name: "Approve this call" }).click();
  await page.getByText(/Approved apr_/).waitFor();
  const approved = await held;
  assert.equal(approved.isError, false, text(approved));
  assert.match(text(approved), /refunded 80/);

  // 81 is denied: the agent gets a clear refusal naming who and why.
  const heldDeny = refund(client, 81, "A-3");
  await openPending(page, 81);
  await page.getByLabel(/Reason/).fill("duplicate of A-2");
  await page.getByRole("button", { name: "Deny" }).click();
  await page.getByText(/Denied apr_/).waitFor();
  const denied = await heldDeny;
  assert.equal(denied.isError, true);
  assert.match(text(denied), /denied by alice: duplicate of A-2/);

  // Live activity shows the decisions (server-sent events), filterable by decision.
  await page.goto(`${base}/console/activity?decision=approved`);
  await page.getByText("Live: connected").waitFor();
  await checkA11y(page, "04-activity");
  const liveRefund = refund(client, 20, "A-9");
  await page.goto(`${base}/console/activity?tool=refund`);
  await page.getByText("Live: connected").waitFor();
  await liveRefund;
  const liveRow = page.locator("#live tr", { hasText: "demo/refund" });
  await liveRow.first().waitFor();
  await page.goto(`${base}/console/audit`);
  await page.getByText("Chain verified.").waitFor();
  await checkA11y(page, "05-audit");
  await page.goto(`${base}/console/agents`);
  await checkA11y(page, "06-agents");
  // Every tool the demo server listed is pinned, approved at first sight.
  await page.goto(`${base}/console/tools`);
  await page.getByRole("cell", { name: "demo/refund" }).waitFor();
  await checkA11y(page, "06-tools");
  // Its baseline learned (only refunds so far), a tool it never used is an anomaly alert.
  const lookup = await client.callTool({ name: "demo__get_order", arguments: { order_id: "A-1001" } });
  assert.equal(lookup.isError, false, text(lookup));
  await page.goto(`${base}/console/alerts`);
  await page.getByText(/Unusual behaviour of agent `shop-agent` \(new tool\): first use of `demo\/get_order`/).waitFor();
  await checkA11y(page, "07-alerts");

  // 90 is pending when the gateway is killed; after a restart it is still there, alice approves
  // it, and the agent's retry of the same call completes.
  refund(client, 90, "A-4").catch(() => {});
  const pendingId = await openPending(page, 90);
  await stopGateway("SIGKILL");
  client.close().catch(() => {});
  ({ child: gateway } = await startGateway());
  await signIn(page, "alice", "alice-long-password");
  assert.equal(await openPending(page, 90), pendingId);
  await page.getByRole("button", { name: "Approve this call" }).click();
  await page.getByText(/Approved apr_/).waitFor();
  const again = await agent(token);
  const retried = await refund(again, 90, "A-4");
  assert.equal(retried.isError, false, text(retried));
  assert.match(text(retried), /refunded 90/);

  // With a 2-second timeout nobody decides in time: the call is refused as expired.
  await stopGateway();
  writeConfig(2);
  ({ child: gateway } = await startGateway());
  const late = await agent(token);
  const expired = await refund(late, 95, "A-5");
  assert.equal(expired.isError, true);
  assert.match(text(expired), /expired/);
  await signIn(page, "root", "root-long-password");
  await page.goto(`${base}/console/approvals`);
  await page.locator("tbody tr", { hasText: "expired" }).first().waitFor();
  await page.screenshot({ path: join(SHOTS, "08-approvals-after.png"), fullPage: true });
  await context.close();
  await Promise.allSettled([again.close(), late.close()]);
});
