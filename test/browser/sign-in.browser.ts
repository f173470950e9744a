// The reference sign-in page (examples/web) in a real browser: headless Chromium
// from Debian's package, driven by playwright-core (never a browser download),
// against the real service on its own origin, in cookie mode. `npm run
// test:browser` runs this file (PGlite, or PostgreSQL with TEST_DATABASE_URL);
// `npm test` does not, so it needs no browser. It writes screenshots of the
// signed-in page to BROWSER_SCREENSHOT_DIR (artifacts/browser).
import t from "tap";
import type { Test } from "tap";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startExampleServer } from "../../examples/web/serve.ts";
import type { App } from "../../src/http/app-type.ts";
import { startApp, TEST_PASSWORD } from "../helpers/app.ts";
import { enrolledUser, totpAt } from "../helpers/mfa.ts";
import { mandatedPerson } from "../helpers/companies.ts";
import { personWithPushApp } from "../helpers/push.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = process.env.BROWSER_SCREENSHOT_DIR ?? "artifacts/browser";
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

let serviceUrl = "";
const pageServer = await startExampleServer({ port: 0, identityUrl: () => serviceUrl });
t.teardown(() => new Promise<void>((resolve) => pageServer.server.close(() => resolve())));
const app: App = await startApp(t, { config: { CORS_ALLOWED_ORIGINS: pageServer.url, LOGIN_FREE_FAILURES: 100 } });
await app.listen({ port: 0, host: "127.0.0.1" });
serviceUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
await mkdir(SCREENSHOTS, { recursive: true });
const now = () => new Date();

/** A fresh browser profile per scenario, as a newcomer's browser. */
async function browser(t: Test): Promise<Page> {
  const profile = await mkdtemp(path.join(tmpdir(), "identity-chromium-"));
  const context: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 800, height: 700 },
  });
  t.teardown(async () => {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  return page;
}

/** Waits until the page shows a section, failing with the page's own error text if it shows one instead. */
async function expectSection(t: Test, page: Page, id: string) {
  await page.locator(`#${id}:not([hidden]), #error:not([hidden])`).first().waitFor({ state: "visible" });
  const error = await page.locator("#error").isVisible() ? await page.locator("#error").textContent() : null;
  t.equal(error, null, `no error on the page on the way to #${id}`);
  t.ok(await page.locator(`#${id}`).isVisible(), `the page shows #${id}`);
}

async function signInWithPassword(page: Page, email: string) {
  await page.locator("#sign-in [name=email]").fill(email);
  await page.locator("#sign-in [name=password]").fill(TEST_PASSWORD);
  await page.locator("#sign-in button").click();
}

/** A fresh browser at the page, past the password, at the second step. */
async function atSecondStep(t: Test, email: string): Promise<Page> {
  const page = await browser(t);
  await page.goto(pageServer.url);
  await expectSection(t, page, "sign-in");
  await signInWithPassword(page, email);
  await expectSection(t, page, "second-step");
  return page;
}

async function expectSignedInAs(t: Test, page: Page, email: string) {
  await expectSection(t, page, "signed-in");
  t.equal(await page.locator("#email").textContent(), email, "the page shows the person's email from /v1/me");
}

/** What the page's scripts can see of the session: no refresh token anywhere. */
async function expectRefreshTokenOutOfReach(t: Test, page: Page) {
  t.equal(await page.evaluate(() => document.cookie), "", "no cookie is readable by the page");
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  t.notMatch(storage, /rt_/, "no refresh token in web storage");
  const cookies = await page.context().cookies(serviceUrl);
  const refresh = cookies.find((c) => c.name === "__Host-refresh_token");
  t.ok(refresh?.value.startsWith("rt_"), "the browser holds the refresh cookie for the service");
  t.match(refresh, { httpOnly: true, secure: true, sameSite: "Strict", path: "/" }, "HttpOnly, Secure, SameSite=Strict, path /");
}

t.test("password and authenticator code: signed in, the refresh token out of reach, the session renewed silently", async (t) => {
  const user = await enrolledUser(app, now);
  const page = await atSecondStep(t, user.email);
  await page.locator("#totp [name=code]").fill(totpAt(user.secret, now(), 1));
  await page.locator("#totp button").click();
  await expectSignedInAs(t, page, user.email);
  await expectRefreshTokenOutOfReach(t, page);
  await page.screenshot({ path: path.join(SCREENSHOTS, "signed-in.png") });

  // No named function inside: tsx would wrap it in a helper the page does not have.
  const parallel = await page.evaluate((url) => Promise.all([1, 2].map(() => fetch(`${url}/v1/auth/refresh`, {
    method: "POST", credentials: "include", headers: { "content-type": "application/json", "x-session-transport": "cookie" }, body: "{}",
  }).then((r) => r.status))), serviceUrl);
  t.same(parallel, [200, 200], "two tabs refreshing at once both succeed");
  await page.reload();
  await expectSignedInAs(t, page, user.email);
  t.pass("a reload continues the session from the cookie (silent refresh)");

  await page.locator("#sign-out").click();
  await expectSection(t, page, "sign-in");
  await page.reload();
  await expectSection(t, page, "sign-in");
  t.pass("after signing out, a reload no longer signs in");
});

t.test("push: the page shows the number, the person types it in the app, and the page signs in", async (t) => {
  const { user, phone } = await personWithPushApp(app);
  const page = await atSecondStep(t, user.email);
  t.ok(await page.locator("#push").isVisible(), "push is offered to a person with a paired app");
  await page.locator("#push-start").click();
  await page.locator("#push-number:not([hidden])").waitFor({ state: "visible" });
  const shown = (await page.locator("#number").textContent())!.trim();
  t.match(shown, /^\d{2}$/, "a two-digit number to type in the app");
  const [pending] = await phone.pending(5);
  t.ok(pending, "the app sees the challenge");
  t.equal((await phone.answer(pending!, "approve", { number: shown })).status, "approved");
  await expectSignedInAs(t, page, user.email);
  await expectRefreshTokenOutOfReach(t, page);
  await page.screenshot({ path: path.join(SCREENSHOTS, "signed-in-push.png") });
});

t.test("a recovery code signs in once and its replacement is shown with a warning", async (t) => {
  const user = await enrolledUser(app, now);
  const page = await atSecondStep(t, user.email);
  await page.locator("#recovery [name=code]").fill(user.recoveryCodes[0]!);
  await page.locator("#recovery button").click();
  await expectSection(t, page, "recovery-codes");
  const shown = await page.locator("#codes li").allTextContents();
  t.equal(shown.length, 1, "one replacement code");
  t.not(shown[0], user.recoveryCodes[0], "a new one");
  t.match(await page.locator("#recovery-codes .warning").textContent(), /only time/, "with a warning to save it");
  await page.locator("#saved").click();
  await expectSignedInAs(t, page, user.email);
});

t.test("Remember this device for 30 days: the next sign-in in this browser skips the second step", async (t) => {
  const user = await enrolledUser(app, now);
  const page = await atSecondStep(t, user.email);
  await page.locator("#remember").check();
  await page.locator("#totp [name=code]").fill(totpAt(user.secret, now(), 1));
  await page.locator("#totp button").click();
  await expectSignedInAs(t, page, user.email);
  await page.locator("#sign-out").click();
  await expectSection(t, page, "sign-in");
  await signInWithPassword(page, user.email);
  await expectSignedInAs(t, page, user.email);
  t.pass("signed in with the password alone on the remembered device");
});

t.test("a company's mandate: enrollment with the QR code and the first code, the recovery code shown once, then signed in", async (t) => {
  const who = await mandatedPerson(app, "Browser Mandate AB");
  const page = await browser(t);
  await page.goto(pageServer.url);
  await signInWithPassword(page, who.email);
  await expectSection(t, page, "enroll");
  t.match(await page.locator("#qr").getAttribute("src"), /^data:image\/svg\+xml;base64,/, "the QR code is shown");
  const secret = (await page.locator("#secret").textContent())!.trim();
  await page.locator("#enroll-confirm [name=code]").fill(totpAt(secret, now()));
  await page.locator("#enroll-confirm button").click();
  await expectSection(t, page, "recovery-codes");
  t.equal((await page.locator("#codes li").allTextContents()).length, 1, "the recovery code is shown");
  t.match(await page.locator("#recovery-codes .warning").textContent(), /only time/, "with a warning to save it");
  await page.screenshot({ path: path.join(SCREENSHOTS, "recovery-code.png") });
  await page.locator("#saved").click();
  await expectSignedInAs(t, page, who.email);
  await expectRefreshTokenOutOfReach(t, page);
});
