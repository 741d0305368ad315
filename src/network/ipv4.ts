/** A dotted quad → its number, or null: pure, apart from subnet.ts (which runs `ip`) for the command line's flag parsing (issue 13). */
const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

export function tryParseIPv4(text: string): number | null {
  const m = DOTTED_QUAD.exec(text);
  if (!m) return null;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return null;
    n = n * 256 + octet;
  }
  return n;
}
