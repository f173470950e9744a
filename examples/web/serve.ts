// Serves the reference sign-in page (examples/web) on its own origin, so that it
// calls the identity service across origins as a real frontend does:
//   npm run example:web      # EXAMPLE_PORT (5173), IDENTITY_URL (http://127.0.0.1:3000)
// The page's origin must be in the service's CORS_ALLOWED_ORIGINS; in development
// http://127.0.0.1:5173 and http://localhost:5173 are, by default.
// A static file server for an example, not for production: no caching, three files.
import { createServer, type Server } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";

const FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

/** Only the page's own files, and calls to the service; the QR code arrives as a data: image. */
function contentSecurityPolicy(identityUrl: string): string {
  return [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    `connect-src ${new URL(identityUrl).origin}`, "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join("; ");
}

export interface ExampleServer { server: Server; url: string }

/** Starts the page's server; `identityUrl` is read per request, so a test may set it after choosing ports. */
export async function startExampleServer(options: { port: number; host?: string; identityUrl: () => string }): Promise<ExampleServer> {
  const host = options.host ?? "127.0.0.1";
  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? "/", "http://page").pathname;
    const headers = { "cache-control": "no-store", "x-content-type-options": "nosniff", "content-security-policy": contentSecurityPolicy(options.identityUrl()) };
    if (path === "/config.js") {
      response.writeHead(200, { ...headers, "content-type": "text/javascript; charset=utf-8" });
      return response.end(`export const IDENTITY_URL = ${JSON.stringify(options.identityUrl())};\n`);
    }
    const entry = FILES[path];
    if (!entry || request.method !== "GET") {
      response.writeHead(404, { ...headers, "content-type": "text/plain" });
      return response.end("not found\n");
    }
    const body = await readFile(fileURLToPath(new URL(entry.file, import.meta.url)));
    response.writeHead(200, { ...headers, "content-type": entry.type });
    response.end(body);
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(options.port, host, resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://${host}:${port}` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const identityUrl = process.env.IDENTITY_URL ?? "http://127.0.0.1:3000";
  const port = Number(process.env.EXAMPLE_PORT ?? 5173);
  const { url } = await startExampleServer({ port, identityUrl: () => identityUrl });
  console.log(`Reference sign-in page: ${url}  (calling the identity service at ${identityUrl})`);
  console.log(`The service must allow this origin: CORS_ALLOWED_ORIGINS=${url} (the default in development for port 5173).`);
}
