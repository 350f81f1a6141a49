/**
 * Talking to one Docker (or Podman) engine, read-only: where it listens, the HTTP/1.1 client on its socket with
 * kept-alive connections, dockerode's transport, the API calls with their timeouts and checks (disk usage among them),
 * the event stream, and the errors they raise. Only GET requests ever leave it.
 *
 * May import `shared/` and `docker/wire/`.
 * @module
 */
export { createDockerApi, DISK_USAGE_TIMEOUT_MS, negotiateApiVersion } from "./api.ts";
export type { BlkioStatEntry, ContainerInspect, ContainerStats, ContainerSummary, DockerApi } from "./api.ts";
export type { ContainerDiskUsage, DiskUsage, ImageUsage, VolumeUsage } from "./disk_usage.ts";
export { loadDockerode } from "./dockerode.ts";
export type { DockerodeConstructor } from "./dockerode.ts";
export { parseDockerEndpoint } from "./endpoint.ts";
export type { DockerEndpoint } from "./endpoint.ts";
export { DockerApiError } from "./errors.ts";
export { FOLLOWED_ACTIONS, openEventStream } from "./events.ts";
export type { ContainerEvent, EventStream, EventStreamItem } from "./events.ts";
