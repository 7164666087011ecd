# One image for the agent worker and the bridge (the compose services pick the command).
# Built from package-lock.json (npm ci), run as the image's unprivileged `node` user.
FROM node:20-bookworm-slim AS build
# An npm registry mirror, if the build must use one (a Verdaccio, an Artifactory): its URL.
ARG NPM_REGISTRY=
WORKDIR /app
COPY package.json package-lock.json ./
# Optional dependencies stay: rtc-node's native binding (@livekit/rtc-ffi-bindings-linux-x64-gnu on
# this platform) is one. No install scripts: the one that matters here would be ffmpeg-static's
# download, and the image uses Debian's ffmpeg.
RUN npm ci --ignore-scripts --no-audit --no-fund ${NPM_REGISTRY:+--registry=$NPM_REGISTRY}
COPY tsconfig.json tsconfig.build.json ./
COPY agent ./agent
COPY bridge ./bridge
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# What runs: the production dependencies alone (no compiler, linters, test tools or the bench's
# stock agent), the same lockfile.
FROM node:20-bookworm-slim AS deps
ARG NPM_REGISTRY=
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund ${NPM_REGISTRY:+--registry=$NPM_REGISTRY} && npm cache clean --force

# Debian's ffmpeg (every format, http(s) inputs for stations, AAC), without what only its video,
# filter and device parts pull in when installed whole (GPU drivers, LLVM, speech synthesis: 680 MB):
# the binary and the libraries it links, each under its canonical directory.
FROM node:20-bookworm-slim AS ffmpeg
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg \
 && ldd /usr/bin/ffmpeg | awk '$3 ~ /^\// {print $3}' | while read -r lib; do \
      dir="$(readlink -f "$(dirname "$lib")")"; mkdir -p "/out$dir"; cp -L "$lib" "/out$dir/"; \
    done \
 && mkdir -p /out/usr/bin && cp /usr/bin/ffmpeg /out/usr/bin/

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=ffmpeg /out/ /
RUN ffmpeg -hide_banner -loglevel error -f lavfi -i anullsrc=d=0.1 -c:a libmp3lame -f null - \
 && ffmpeg -hide_banner -protocols | grep -qx '  https'
WORKDIR /app
ENV NODE_ENV=production FFMPEG_PATH=/usr/bin/ffmpeg
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The listener page the bridge serves when LISTENER_PAGE is on.
COPY web ./web
COPY package.json ./
USER node
CMD ["node", "dist/agent/main.js", "start"]
