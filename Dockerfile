# Holdpoint: one image for API, workers and migrations (pick the role via CMD).
# TypeScript runs directly through tsx (a production dependency), so there is
# no build stage.
FROM node:24-bookworm-slim

ENV NODE_ENV=production \
    PORT=8080

WORKDIR /app

# Package manifests first so the dependency layer is cached until they change.
COPY package.json package-lock.json ./
COPY patches ./patches
# --ignore-scripts: `prepare` builds the SDK with TypeScript, a dev dependency
# the server does not need (it runs the sources through tsx). That also skips
# `postinstall`, so the postgres.js patch (ARCHITECTURE.md, "The postgres.js
# patch") is applied here, with the lockfile's patch-package (a dev
# dependency: installed for this step, pruned in the same layer).
RUN npm ci --include=dev --ignore-scripts \
 && npx patch-package --error-on-fail \
 && npm prune --omit=dev --ignore-scripts \
 && npm cache clean --force

# Application code. Owned by root and only readable by the runtime user, so the
# process cannot rewrite its own code. tsconfig.json is included because tsx
# reads it (JSX settings, verbatimModuleSyntax).
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY workers ./workers
COPY sql ./sql

# Where compose keeps a generated secret key (HOLDPOINT_SECRET_KEY_FILE) when
# HOLDPOINT_SECRET_KEY is not set; a named volume mounted here inherits this owner.
RUN mkdir -p /var/lib/holdpoint && chown node:node /var/lib/holdpoint && chmod 700 /var/lib/holdpoint

USER node

EXPOSE 8080

# Slim image has no curl; Node 24 has global fetch. Only meaningful for roles
# that serve HTTP (compose disables it for the worker and migrate services).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: node is PID 1 and receives SIGTERM directly for graceful shutdown.
CMD ["node", "bin/holdpoint.js", "start"]
