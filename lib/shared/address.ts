/** Writing network addresses as URLs and Deno's flags expect them. Pure. */

/**
 * `host:port` as URLs and Deno's `--allow-net` write it: an IPv6 address goes in brackets.
 * @example hostPort("::1", 8000) // "[::1]:8000"
 */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
}
