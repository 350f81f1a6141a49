/**
 * Which containers the exporter follows: the patterns of EXPORTER_INCLUDE_CONTAINERS and EXPORTER_EXCLUDE_CONTAINERS,
 * read from their text, and the filter that matches a container's name and labels against them. Pure.
 */
import { globMatches } from "./glob.ts";

/** The label that leaves a container out whatever the patterns say, when its value is `true`. */
export const IGNORE_LABEL = "docker-exporter.ignore";

/** One pattern: a glob on the container's name, or a label key and a glob on its value. */
export type ContainerPattern =
  | { kind: "name"; glob: string }
  | { kind: "label"; key: string; valueGlob: string };

/** What a name glob may hold: what a container name may (letters, digits, `_`, `.`, `-`), and `*` and `?`. */
const NAME_GLOB = /^[A-Za-z0-9_.\-*?]+$/;

/** A label key: anything but blanks, `=`, `,` and glob characters (the key is matched exactly). */
const LABEL_KEY = /^[^\s=,*?]+$/;

/**
 * Reads comma-separated patterns, each a glob on the container name (`web-*`) or `label:KEY=VALUE_GLOB`
 * (`label:com.docker.compose.project=shop`, `label:team=*` for any value). Blanks around each are ignored, and so
 * are empty ones. Returns the patterns, or the first bad one and why it is bad.
 * @example parseContainerPatterns("web-*, label:team=a*") // { patterns: [{ kind: "name", glob: "web-*" }, ...] }
 */
export function parseContainerPatterns(
  text: string,
): { patterns: ContainerPattern[] } | { bad: string; why: string } {
  const patterns: ContainerPattern[] = [];
  for (const item of text.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
    if (item.startsWith("label:")) {
      const rest = item.slice("label:".length);
      const equals = rest.indexOf("=");
      const key = equals < 0 ? rest : rest.slice(0, equals);
      if (!LABEL_KEY.test(key)) {
        return { bad: item, why: "names no label key; use label:KEY=VALUE_GLOB, the key without blanks, = or globs" };
      }
      if (equals < 0) return { bad: item, why: "has no value; use label:KEY=VALUE_GLOB (label:KEY=* for any value)" };
      patterns.push({ kind: "label", key, valueGlob: rest.slice(equals + 1) });
    } else if (NAME_GLOB.test(item)) {
      patterns.push({ kind: "name", glob: item });
    } else {
      return {
        bad: item,
        why: "is neither a container name glob (letters, digits, _ . - with * and ?) nor label:KEY=VALUE_GLOB",
      };
    }
  }
  return { patterns };
}

/**
 * Decides from a container's name and labels whether the exporter follows it: when it matches one of `include` (or
 * `include` is empty) and none of `exclude`, and is not labelled `docker-exporter.ignore=true`.
 */
export class ContainerFilter {
  /** The label keys a decision reads: `IGNORE_LABEL` and the keys of the label patterns. */
  readonly labelKeys: ReadonlySet<string>;

  constructor(
    private readonly include: readonly ContainerPattern[] = [],
    private readonly exclude: readonly ContainerPattern[] = [],
  ) {
    const keys = [...include, ...exclude].flatMap((pattern) => pattern.kind === "label" ? [pattern.key] : []);
    this.labelKeys = new Set([IGNORE_LABEL, ...keys]);
  }

  /**
   * Whether the container named `name` (with or without the engine's leading `/`) with `labels` is followed. The
   * labels may hold more than labels (an event's attributes do): only the keys of `labelKeys` are read.
   */
  follows(name: string, labels: Readonly<Record<string, string>>): boolean {
    if (valueOf(labels, IGNORE_LABEL) === "true") return false;
    const bare = name.startsWith("/") ? name.slice(1) : name;
    const matches = (pattern: ContainerPattern) => {
      if (pattern.kind === "name") return globMatches(pattern.glob, bare);
      const value = valueOf(labels, pattern.key);
      return value !== undefined && globMatches(pattern.valueGlob, value);
    };
    return (this.include.length === 0 || this.include.some(matches)) && !this.exclude.some(matches);
  }
}

/** The value of label `key`, not of a key every object has (`constructor`). */
function valueOf(labels: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(labels, key) && typeof labels[key] === "string" ? labels[key] : undefined;
}
