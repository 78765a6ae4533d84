# The fleet simulator as an image (README: "Fleet simulator across many pods"):
#   docker build -t registry.example/evse-edge:0.1.0 .
#   docker push registry.example/evse-edge:0.1.0
#   docker run --rm registry.example/evse-edge:0.1.0 sim --count 100 --duration 1m
# /app is the npm package (npm pack: bin/, dist/, profiles/, systemd/) with its production
# dependencies: the same tree test/build/package.test.ts runs.

FROM node:20-bookworm AS build
WORKDIR /src
# better-sqlite3 and unix-dgram compile against this image's Node, in /usr/local (the project's
# .npmrc names Debian's /usr, and is not copied).
ENV npm_config_nodedir=/usr/local npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
# npm rebuild: the native modules' install scripts; npm run build: tsc to dist/.
RUN npm rebuild && npm run build \
 && npm pack --ignore-scripts \
 && mkdir /app && tar -xzf evse-edge-*.tgz -C /app --strip-components=1 \
 && npm prune --omit=dev && mv node_modules /app/

FROM node:20-bookworm-slim
ENV NODE_ENV=production
COPY --from=build /app /app
# Reports go to /reports (a volume in the Kubernetes Indexed Job).
RUN mkdir /reports && chown node:node /reports
WORKDIR /reports
# The image's user node, by number: Kubernetes' runAsNonRoot can only check a numeric user.
USER 1000:1000
ENTRYPOINT ["node", "/app/bin/evse-edge.js"]
CMD ["sim", "--help"]
