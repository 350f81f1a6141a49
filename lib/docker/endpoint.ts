/** Where the Docker Engine API listens, and reading a `DOCKER_HOST`-style address into it. Pure. */

/** Where the Docker Engine API listens. */
export type DockerEndpoint =
  | { kind: "unix"; path: string; url: string }
  | { kind: "tcp"; hostname: string; port: number; url: string };

/** Parses `DOCKER_HOST`-style addresses: `unix:///path` or `tcp://host:port`. */
export function parseDockerEndpoint(text: string): DockerEndpoint | undefined {
  if (text.startsWith("unix://")) {
    const path = text.slice("unix://".length);
    return path.startsWith("/") ? { kind: "unix", path, url: text } : undefined;
  }
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(text);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) return undefined;
    return { kind: "tcp", hostname: tcp[1].replace(/^\[|\]$/g, ""), port, url: text };
  }
  return undefined;
}
