# syntax=docker/dockerfile:1
# otelytics container image: a build stage (compiles TypeScript and the status page) and a small
# runtime stage (distroless Node.js 20, no shell, runs as the non-root user 65532).
#
#   docker build -t otelytics:0.1.0 .
#   docker run --rm -p 4317:4317 -p 4318:4318 -e OTELYTICS_PSEUDONYM_KEY="$(openssl rand -base64 32)" \
#     -v "$PWD/tls:/etc/otelytics/tls:ro" -v "$PWD/tokens:/etc/otelytics/tokens:ro" otelytics:0.1.0
#
# The image runs config.example.yaml with OTLP on 0.0.0.0, over TLS and with bearer tokens
# (deploy/docker/secure.yaml laid over it: mount the certificate and the token file); mount your
# own config over /etc/otelytics/config.yaml, or pass --config (Kubernetes: deploy/kubernetes/,
# documented in deploy/README.md).

ARG NODE_IMAGE=node:20.20.2-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json config.example.yaml ./
COPY deploy/docker/secure.yaml ./deploy/docker/secure.yaml
COPY src ./src
COPY receivers ./receivers
COPY processors ./processors
COPY exporters ./exporters
COPY connectors ./connectors
COPY scripts/build-status-ui.mjs ./scripts/build-status-ui.mjs
# The steps of `npm run build`: the TypeScript compile, then the status page's assets.
RUN npx tsc -p tsconfig.json \
 && node scripts/build-status-ui.mjs --outdir dist \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${RUNTIME_IMAGE} AS runtime
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/receivers ./dist/receivers
COPY --from=build /src/dist/processors ./dist/processors
COPY --from=build /src/dist/exporters ./dist/exporters
COPY --from=build /src/dist/connectors ./dist/connectors
COPY --from=build /src/config.example.yaml /etc/otelytics/config.yaml
COPY --from=build /src/deploy/docker/secure.yaml /etc/otelytics/secure.yaml
ENV NODE_ENV=production \
    OTELYTICS_HTTP_ENDPOINT=0.0.0.0:4318 \
    OTELYTICS_GRPC_ENDPOINT=0.0.0.0:4317
# The file exporter of the example config writes ./data/events.jsonl: the home of the non-root user.
WORKDIR /home/nonroot
USER 65532:65532
# 4317 OTLP/gRPC, 4318 OTLP/HTTP, 13133 health_check, 8888 metrics, 55679 status page (localhost unless configured)
EXPOSE 4317 4318 13133 8888
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "fetch('http://127.0.0.1:13133/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# V8's young generation at two semi-spaces of 2 MiB (its default is 16), the old generation let
# grow by 30% of what is alive between mark-compacts, one V8 background thread (Node's default is
# 4), no allocation-site pretenuring, and garbage collection on the main thread: less resident
# memory and a shorter tail at a steady rate (src/workers.ts, GATEWAY_NODE_OPTIONS; README: Memory
# and latency at 10,000 spans/s).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "--heap-growing-percent=30", "--v8-pool-size=1", "--no-allocation-site-pretenuring", "--single-threaded-gc", "/app/dist/src/cli.js"]
CMD ["--config", "/etc/otelytics/config.yaml", "--config", "/etc/otelytics/secure.yaml"]
