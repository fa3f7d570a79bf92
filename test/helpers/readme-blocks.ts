/**
 * The README's code blocks, and how each is to be run, as the README itself says.
 *
 * A fenced block's language says what runs it: `sh` (bash), `js` (node, as an ES module), `python`
 * (python3), `ts` (type-checked against the package), `json` (parsed). A block in any other language,
 * or none, is output or a picture, not code. An HTML comment on the line before the fence changes how:
 *
 *     <!-- readme-test: serve -->                      the block starts an emulator, used by the blocks after it
 *     <!-- readme-test: expect='"token":4' exit=1 -->  what its stdout contains (repeatable) and its exit code
 *     <!-- readme-test: skip="needs pip install runpod" -->   not run, for the reason given
 */

/** How a block is run: by its language. */
export type BlockKind = "sh" | "js" | "python" | "ts" | "json";

const KINDS: Record<string, BlockKind> = {
  sh: "sh", bash: "sh", shell: "sh", js: "js", javascript: "js", mjs: "js", python: "python", py: "python", ts: "ts", typescript: "ts", json: "json",
};

export interface ReadmeBlock {
  /** The line of its opening fence, from 1. */
  line: number;
  kind: BlockKind;
  code: string;
  /** Why it is not run, when it is not. */
  skip?: string;
  /** It starts an emulator that the blocks after it talk to (on the README's port 8000). */
  serve: boolean;
  /** Text its stdout must contain. */
  expect: string[];
  exit: number;
}

const ANNOTATION = /^<!--\s*readme-test:(.*)-->\s*$/;
const DIRECTIVE = /\s*(\w+)(?:=("[^"]*"|'[^']*'|\S+))?/y;

/** The README's code blocks in order, each with what its annotation says; an annotation it cannot read throws. */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split("\n");
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith("```"); i++) body.push(lines[i]);
    const kind = KINDS[open[1].toLowerCase()];
    const annotation = ANNOTATION.exec(lines[start - 1] ?? "");
    if (!kind) {
      if (annotation) throw new Error(`README line ${start}: a readme-test annotation before a block that is not code (\`\`\`${open[1]})`);
      continue;
    }
    blocks.push({ line: start + 1, kind, code: body.join("\n"), serve: false, expect: [], exit: 0, ...directives(annotation?.[1] ?? "", start) });
  }
  return blocks;
}

function directives(text: string, line: number): Partial<ReadmeBlock> {
  const found: Partial<ReadmeBlock> & { expect: string[] } = { expect: [] };
  let position = 0;
  for (;;) {
    DIRECTIVE.lastIndex = position;
    const match = DIRECTIVE.exec(text);
    if (!match) break;
    position = DIRECTIVE.lastIndex;
    const [, name, raw] = match;
    const value = raw?.replace(/^(["'])(.*)\1$/, "$2");
    if (name === "serve" && value === undefined) found.serve = true;
    else if (name === "skip" && value) found.skip = value;
    else if (name === "expect" && value) found.expect.push(value);
    else if (name === "exit" && /^\d+$/.test(value ?? "")) found.exit = Number(value);
    else throw new Error(`README line ${line}: cannot read "${match[0].trim()}" in a readme-test annotation (serve, skip="why", expect="text", exit=N)`);
  }
  const rest = text.slice(position).trim();
  if (rest) throw new Error(`README line ${line}: cannot read "${rest}" in a readme-test annotation`);
  return found;
}
