import { describe, expect, it } from "vitest";
import { readmeBlocks } from "./readme-blocks.js";

describe("reading the README's blocks", () => {
  it("takes each code block with its language and annotation, and leaves output and pictures alone", () => {
    const markdown = [
      "# Title",
      "```sh",
      "npm install",
      "```",
      "<!-- readme-test: serve -->",
      "```sh",
      "npx emulator handler.py",
      "```",
      "```",
      "10:41:02 worker w1 ready",
      "```",
      `<!-- readme-test: expect='"token":4' expect="job finished" exit=1 -->`,
      "```js",
      "console.log(1);",
      "```",
      '<!-- readme-test: skip="needs pip install runpod" -->',
      "```python",
      "import runpod",
      "```",
    ].join("\n");
    expect(readmeBlocks(markdown)).toEqual([
      { line: 2, kind: "sh", code: "npm install", serve: false, expect: [], exit: 0 },
      { line: 6, kind: "sh", code: "npx emulator handler.py", serve: true, expect: [], exit: 0 },
      { line: 13, kind: "js", code: "console.log(1);", serve: false, expect: ['"token":4', "job finished"], exit: 1 },
      { line: 17, kind: "python", code: "import runpod", serve: false, expect: [], exit: 0, skip: "needs pip install runpod" },
    ]);
  });

  it("refuses an annotation it cannot read, naming its line", () => {
    expect(() => readmeBlocks("<!-- readme-test: serv -->\n```sh\nx\n```")).toThrow('README line 1: cannot read "serv" in a readme-test annotation');
    expect(() => readmeBlocks("<!-- readme-test: exit=one -->\n```sh\nx\n```")).toThrow("README line 1");
    expect(() => readmeBlocks("<!-- readme-test: serve -->\n```\noutput\n```")).toThrow("not code");
  });
});
