import { readFileSync, writeFileSync } from "node:fs";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { optionTable } from "../src/options/option-docs.js";

const root = new URL("../", import.meta.url);
const readme = readFileSync(new URL("README.md", root), "utf8");

describe("the README", () => {
  it("lists the options exactly as the options table has them", () => {
    const block = /(<!-- options-table: made by optionTable\(\) in src\/options\/option-docs\.ts -->\n)([\s\S]*?)(\n<!-- options-table end -->)/;
    // On a difference, `UPDATE_README=1 npx vitest run test/readme.test.ts` writes the tables into README.md.
    if (process.env.UPDATE_README) writeFileSync(new URL("README.md", root), readme.replace(block, (_, open, _tables, close) => `${open}${optionTable()}${close}`));
    expect(block.exec(readFileSync(new URL("README.md", root), "utf8"))?.[2]).toBe(optionTable());
  });

  it("shows the testing example of test/readme-example.test.ts, word for word", () => {
    const example = /```ts\n(\/\/ app\.test\.ts[\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBe(readFileSync(new URL("test/readme-example.test.ts", root), "utf8"));
  });

  it("has tests of the public API that type-check against the package's types", () => {
    // They import the package by name, so they are checked against the built declarations (dist/). The
    // README's own ts blocks are checked by the walkthrough (readme-examples.test.ts).
    const files = ["test/public-api.test.ts", "test/sdk-client.test.ts"].map((file) => new URL(file, root).pathname);
    const config = ts.getParsedCommandLineOfConfigFile(new URL("tsconfig.json", root).pathname, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
    const program = ts.createProgram(files, { ...config?.options, noEmit: true, rootDir: undefined, outDir: undefined, declaration: false });
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const where = diagnostic.file ? `${diagnostic.file.fileName}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}` : "";
      return `${where} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`;
    });
    expect(problems).toEqual([]);
    // A whole type-check: seconds alone, longer on a loaded machine.
  }, 180_000);
});
