/**
 * Keeps the error catalogue, the README's error table and the codes src uses in step. Pure (texts in, problems
 * out) so the test can also show it failing on made-up inputs.
 */

export interface CatalogueView {
  /** code -> exit status (undefined: not meant to end a command) */
  readonly [code: string]: number | undefined;
}

export interface SourceFile {
  file: string;
  text: string;
}

/** `| \`RGW_X\` | meaning | 1 |` rows of the README's "## Errors" section: code -> exit column ('—' or a number). */
export function readmeErrorTable(readme: string): Map<string, string> {
  const start = readme.indexOf('\n## Errors\n');
  if (start < 0) return new Map();
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\| `(RGW_[A-Z0-9_]+)` \|.*\| *([^|]*?) *\|$/gm)) rows.set(m[1], m[2]);
  return rows;
}

/** RGW_ names in quotes: how src refers to a code (a throw, a `code =`, a type). Bare identifiers are not codes. */
export function quotedCodes(text: string): Set<string> {
  return new Set([...text.matchAll(/['"`](RGW_[A-Z0-9_]+)['"`]/g)].map((m) => m[1]));
}

/**
 * Every problem: a code missing from the README or documented with another exit status, a README row for no
 * code, a code nothing in src uses, and a quoted RGW_ name in src that is neither a code nor a known non-code.
 */
export function catalogueProblems(catalogue: CatalogueView, readme: string, src: readonly SourceFile[], notCodes: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const table = readmeErrorTable(readme);
  for (const [code, exit] of Object.entries(catalogue)) {
    const row = table.get(code);
    if (row === undefined) problems.push(`${code}: not in the README's error table`);
    else if (row !== (exit === undefined ? '—' : String(exit))) problems.push(`${code}: README says exit '${row}', the catalogue ${exit ?? '—'}`);
  }
  for (const code of table.keys()) if (!(code in catalogue)) problems.push(`${code}: in the README but not in the catalogue`);
  const used = new Set<string>();
  for (const { file, text } of src) {
    for (const name of quotedCodes(text)) {
      if (notCodes.has(name)) continue;
      if (!(name in catalogue)) problems.push(`${name}: used in ${file} but not in the catalogue`);
      used.add(name);
    }
  }
  for (const code of Object.keys(catalogue)) if (!used.has(code)) problems.push(`${code}: in the catalogue but nothing in src uses it`);
  return problems;
}
