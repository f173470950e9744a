// The reference sign-in page: how a browser frontend on another origin uses the
// identity service in cookie mode. Every call sends `x-session-transport: cookie`
// and `credentials: "include"`: the service then keeps the refresh token in an
// HttpOnly cookie this script cannot read, and answers the short-lived access
// token in the JSON, which lives in a variable here and nowhere else.
// Plain fetch (the typed client of the contract issue will replace `call`).
import { IDENTITY_URL } from "./config.js";

const $ = (id) => document.getElementById(id);
const SECTIONS = ["sign-in", "second-step", "enroll", "recovery-codes", "signed-in"];
const REFRESH_MARGIN_SECONDS = 60;
const PUSH_WAIT_SECONDS = 25;
// "Remember this device": the device token only skips the second step together
// with the right password, so the page keeps it in localStorage (see README).
const DEVICE_TOKEN_KEY = "identity.deviceToken";

let accessToken = null;
let refreshTimer = null;

/** One call to the service; a problem+json answer becomes an Error with its `problem`. */
async function call(path, { method = "POST", body, bearer } = {}) {
  const headers = { "x-session-transport": "cookie" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await fetch(new URL(path, IDENTITY_URL), {
    method, headers, credentials: "include", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = res.status === 204 ? null : await res.json();
  if (!res.ok) throw Object.assign(new Error(data?.detail ?? data?.title ?? `HTTP ${res.status}`), { problem: data });
  return data;
}

function show(id) {
  for (const section of SECTIONS) $(section).hidden = section !== id;
  $("error").hidden = true;
}

function showError(error) {
  $("error").textContent = error.message;
  $("error").hidden = false;
}

/** Runs a form's or button's action, showing what went wrong instead of failing silently. */
const guarded = (action) => (event) => {
  event.preventDefault();
  action(event).catch(showError);
};

// --- the session -----------------------------------------------------------

async function signedIn(answer) {
  accessToken = answer.accessToken;
  if (answer.deviceToken) localStorage.setItem(DEVICE_TOKEN_KEY, answer.deviceToken);
  scheduleRefresh(answer.expiresIn);
  const me = await call("/v1/me", { method: "GET", bearer: accessToken });
  $("email").textContent = me.email;
  show("signed-in");
}

/** Silent refresh shortly before the access token expires; the cookie carries the refresh token. */
function scheduleRefresh(expiresIn) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh().catch(() => signedOut()), Math.max(expiresIn - REFRESH_MARGIN_SECONDS, 5) * 1000);
}

async function refresh() {
  const answer = await call("/v1/auth/refresh", { body: {} });
  accessToken = answer.accessToken;
  scheduleRefresh(answer.expiresIn);
  return answer;
}

function signedOut() {
  clearTimeout(refreshTimer);
  accessToken = null;
  show("sign-in");
}

// --- password, then what the service asks for next --------------------------

let mfaToken = null;

async function afterPassword(answer) {
  if (answer.status === "authenticated") return signedIn(answer);
  if (answer.status === "mfa_required") return askSecondStep(answer);
  return enroll(answer.enrollmentToken);
}

$("sign-in").addEventListener("submit", guarded(async (event) => {
  const form = new FormData(event.target);
  const deviceToken = localStorage.getItem(DEVICE_TOKEN_KEY);
  const answer = await call("/v1/auth/login", {
    body: { email: form.get("email"), password: form.get("password"), ...(deviceToken ? { deviceToken } : {}) },
  });
  await afterPassword(answer);
}));

// --- the second step: authenticator code, recovery code, or push -----------

function askSecondStep(answer) {
  mfaToken = answer.mfaToken;
  $("totp").hidden = !answer.methods.includes("totp");
  $("recovery").hidden = !answer.methods.includes("recovery_code");
  $("push").hidden = !answer.methods.includes("push");
  $("push-number").hidden = true;
  show("second-step");
}

const remembered = () => ($("remember").checked ? { rememberDevice: true, deviceName: "Web browser" } : {});

for (const id of ["totp", "recovery"]) {
  $(id).addEventListener("submit", guarded(async (event) => {
    const code = new FormData(event.target).get("code");
    const answer = await call("/v1/auth/mfa/verify", { body: { mfaToken, method: event.target.dataset.method, code, ...remembered() } });
    event.target.reset();
    // A used recovery code comes back replaced: the new one is shown once, like at enrollment.
    if (answer.recoveryCodes) return showRecoveryCodes(answer.recoveryCodes, () => signedIn(answer));
    return signedIn(answer);
  }));
}

$("push-start").addEventListener("click", guarded(async () => {
  const challenge = await call("/v1/auth/mfa/push", { body: { mfaToken, ...remembered() } });
  $("number").textContent = challenge.numberToMatch;
  $("push-number").hidden = false;
  for (;;) {
    const path = `/v1/auth/mfa/push/${encodeURIComponent(challenge.challengeId)}?waitSeconds=${PUSH_WAIT_SECONDS}`;
    const state = await call(path, { method: "GET", bearer: mfaToken });
    // Approved: the answer is the signed-in session itself (status "authenticated").
    if (state.status === "authenticated") return signedIn(state);
    if (state.status !== "pending") throw new Error(state.status === "rejected" ? "The sign-in was rejected in the app." : "The request expired; sign in again.");
  }
}));

// --- enrollment when a company requires two-step verification --------------

let enrollmentToken = null;

async function enroll(token) {
  enrollmentToken = token;
  const setup = await call("/v1/me/mfa/totp", { bearer: enrollmentToken });
  $("qr").src = `data:image/svg+xml;base64,${btoa(setup.qrSvg)}`;
  $("secret").textContent = setup.secret;
  show("enroll");
}

$("enroll-confirm").addEventListener("submit", guarded(async (event) => {
  const code = new FormData(event.target).get("code");
  const answer = await call("/v1/me/mfa/totp/confirm", { bearer: enrollmentToken, body: { code } });
  event.target.reset();
  showRecoveryCodes(answer.recoveryCodes, () => signedIn(answer.session));
}));

function showRecoveryCodes(codes, next) {
  $("codes").replaceChildren(...codes.map((code) => Object.assign(document.createElement("li"), { textContent: code })));
  $("saved").onclick = guarded(next);
  show("recovery-codes");
}

// --- signing out, and the first look at the page ---------------------------

$("sign-out").addEventListener("click", guarded(async () => {
  await call("/v1/auth/logout", { bearer: accessToken });
  signedOut();
}));

// A page load (or a second tab) continues the session from the cookie, if there is one.
refresh().then((answer) => signedIn(answer), () => signedOut());
