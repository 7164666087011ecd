# One image for the agent worker and the bridge (the compose services pick the command).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
COPY test ./test
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --omit=optional

FROM node:20-bookworm-slim
# ffmpeg from Debian: decodes every format, including http(s) inputs and AAC.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The listener page the bridge serves when LISTENER_PAGE is on.
COPY web ./web
COPY package.json ./
USER node
CMD ["node", "dist/agent/main.js", "start"]
