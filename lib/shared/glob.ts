/** Glob patterns (`*` any run of characters, `?` any one), matched without regular expressions. Pure. */

/**
 * Whether `text` matches `glob` (`*` any run of characters, `?` any one). Greedy, going back only to the character
 * after the last `*`'s match, so it takes at most about length(glob) × length(text) steps.
 * @example globMatches("com.example.*", "com.example.team") // true
 */
export function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  /** Where the last `*` seen is in the glob, and where in the text its match ends for now; -1 before any. */
  let star = -1;
  let starText = 0;
  while (t < text.length) {
    if (g < glob.length && (glob[g] === "?" || (glob[g] !== "*" && glob[g] === text[t]))) {
      g++;
      t++;
    } else if (g < glob.length && glob[g] === "*") {
      star = g++;
      starText = t;
    } else if (star >= 0) {
      // Let the last `*` take one more character, and try the rest of the glob from there.
      g = star + 1;
      t = ++starText;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}
