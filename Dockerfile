# The Docker exporter's container image.
#
#   docker build -t docker-exporter .
#   docker run -d --name docker-exporter -p 8000:8000 \
#     -v /var/run/docker.sock:/var/run/docker.sock:ro \
#     --group-add "$(stat -c %g /var/run/docker.sock)" docker-exporter
#
# Two stages on the official Deno images. The first downloads the npm dependencies into DENO_DIR and
# checks that main.ts runs from that cache alone; the second, distroless (no shell, no package
# manager), runs the exporter as the unprivileged user 65532 from the same cache, so it starts with no
# network at all. Behind a TLS-intercepting proxy, see deploy/build-ca/README.md.
#
# The permission flags below are IMAGE_PERMISSIONS in lib/config/permissions.ts: the socket at its standard path,
# the host's cgroup tree, /proc and the engine's data root under /host (the last for statfs, with --allow-sys=statfs),
# and /etc/docker-exporter for a web config; tests/unit/config/permissions_test.ts fails when they drift apart.

ARG BUILD_IMAGE=denoland/deno:2.9.6
ARG RUNTIME_IMAGE=denoland/deno:distroless-2.9.6

FROM ${BUILD_IMAGE} AS build
ENV DENO_DIR=/deno-dir/ DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
# Unset unless given with --build-arg, for a proxy's CA (deploy/build-ca/README.md).
ARG DENO_CERT
ARG DENO_TLS_CA_STORE
WORKDIR /app
COPY deploy/build-ca/ /build-ca/
# Dependencies first, so editing the source does not download them again.
COPY deno.json deno.lock ./
RUN ["deno", "install", "--frozen"]
COPY main.ts ./
COPY lib/ ./lib/
# Fails when main.ts imports anything deno.lock does not pin.
RUN ["deno", "install", "--frozen", "--entrypoint", "main.ts"]
# Runs once from the cache alone, as the image will.
RUN ["deno", "run", "--cached-only", "--frozen", "--no-code-cache", "--allow-net=unix:/var/run/docker.sock,0.0.0.0,127.0.0.1", "--allow-read=/var/run/docker.sock,/host/sys/fs/cgroup,/host/proc,/etc/docker-exporter,/host/data-root", "--allow-write=/var/run/docker.sock", "--allow-sys=statfs", "--allow-env=DOCKER_HOST,EXPORTER_*,LOG_TOKENS,LOG_STREAM,XDG_RUNTIME_DIR", "main.ts", "--version"]

FROM ${RUNTIME_IMAGE}
# MALLOC_ARENA_MAX as in the start task: at most two glibc malloc arenas keep about 1 MiB less (docs/permissions.md).
ENV DENO_DIR=/deno-dir/ DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 MALLOC_ARENA_MAX=2
# Resource metrics from the host's cgroup files where they are mounted read-only at these paths (compose.yaml and
# docs/running.md show the mounts); without them the exporter asks the engine's stats API and says so once.
ENV EXPORTER_CGROUP_ROOT=/host/sys/fs/cgroup EXPORTER_PROC_ROOT=/host/proc
# The file system of the engine's data root (/var/lib/docker; Podman's /var/lib/containers/storage), where it is
# mounted read-only: the exporter only statfs-es it, for container_fs_limit_bytes and the inode families.
ENV EXPORTER_DATA_ROOT=/host/data-root
COPY --from=build /deno-dir/ /deno-dir/
COPY --from=build /app/ /app/
WORKDIR /app
# distroless's `nonroot`. It reaches the Docker socket through the socket's group, added at run time:
# `--group-add "$(stat -c %g /var/run/docker.sock)"` (compose: `group_add`).
USER 65532:65532
EXPOSE 8000
# The exporter stops cleanly on SIGTERM within three seconds.
STOPSIGNAL SIGTERM
# No shell or curl in the image: the exporter probes its own /healthz on EXPORTER_PORT and exits 0 or 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--frozen", "--v8-flags=--max-semi-space-size=1,--optimize-for-size", "--no-code-cache", "--allow-net=unix:/var/run/docker.sock,0.0.0.0,127.0.0.1", "--allow-read=/var/run/docker.sock,/host/sys/fs/cgroup,/host/proc,/etc/docker-exporter,/host/data-root", "--allow-write=/var/run/docker.sock", "--allow-sys=statfs", "--allow-env=DOCKER_HOST,EXPORTER_*,LOG_TOKENS,LOG_STREAM,XDG_RUNTIME_DIR", "main.ts", "--healthcheck"]
ENTRYPOINT ["deno", "run", "--cached-only", "--frozen", "--v8-flags=--max-semi-space-size=1,--optimize-for-size", "--no-code-cache", "--allow-net=unix:/var/run/docker.sock,0.0.0.0,127.0.0.1", "--allow-read=/var/run/docker.sock,/host/sys/fs/cgroup,/host/proc,/etc/docker-exporter,/host/data-root", "--allow-write=/var/run/docker.sock", "--allow-sys=statfs", "--allow-env=DOCKER_HOST,EXPORTER_*,LOG_TOKENS,LOG_STREAM,XDG_RUNTIME_DIR", "main.ts"]
