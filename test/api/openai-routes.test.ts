import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { call, fixture, startEmulator } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

const vllm = fixture("python/openai_vllm/handler.py");

describe("the OpenAI-compatible route", () => {
  it("serves the official openai client: models, a chat completion and a completion, as jobs with the platform's input", async () => {
    const emu = await startEmulator({ handler: vllm, apiKey: "sk-local" });
    const jobInputs: unknown[] = [];
    emu.on("status", (e) => e.job.status === "IN_QUEUE" && jobInputs.push(e.job.input));
    const client = new OpenAI({ apiKey: "sk-local", baseURL: `${emu.baseUrl}/local/openai/v1` });
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["echo-1"]);
    const chat = await client.chat.completions.create({ model: "echo-1", messages: [{ role: "user", content: "hello there world" }] });
    expect(chat.choices[0]?.message.content).toBe("hello there world");
    const completion = await client.completions.create({ model: "echo-1", prompt: "one two" });
    expect(completion.choices[0]?.text).toBe("one two");
    const inputs = new Set(jobInputs.map((input) => JSON.stringify(input)));
    expect(inputs).toEqual(
      new Set([
        { openai_route: "/v1/models", openai_input: null },
        { openai_route: "/v1/chat/completions", openai_input: { model: "echo-1", messages: [{ role: "user", content: "hello there world" }] } },
        { openai_route: "/v1/completions", openai_input: { model: "echo-1", prompt: "one two" } },
      ].map((input) => JSON.stringify(input))),
    );
    const wrong = new OpenAI({ apiKey: "nope", baseURL: `${emu.baseUrl}/local/openai/v1` });
    await expect(wrong.models.list()).rejects.toMatchObject({ status: 401 });
  }, 60_000);

  it("streams a chat completion chunk by chunk as the handler yields it", async () => {
    const emu = await startEmulator({ handler: vllm });
    const gate = join(scratchDir(), "go");
    const client = new OpenAI({ apiKey: "anything", baseURL: `${emu.baseUrl}/local/openai/v1` });
    const stream = await client.chat.completions.create({
      model: "echo-1",
      stream: true,
      messages: [{ role: "user", content: "streamed tokens arrive" }],
      // @ts-expect-error a field of the fixture: the tokens after the first wait for this file
      gate,
    });
    const tokens: string[] = [];
    for await (const chunk of stream) {
      tokens.push(chunk.choices[0]?.delta.content ?? "");
      // The first token came while the handler still waits to yield the others.
      if (tokens.length === 1) {
        expect(existsSync(gate)).toBe(false);
        writeFileSync(gate, "");
      }
    }
    expect(tokens.join("")).toBe("streamed tokens arrive");
  }, 60_000);

  it("frames yielded objects as data lines closed by [DONE], and turns jobs into {openai_route, openai_input}", async () => {
    const emu = await startEmulator({ handler: async function* (job: { input: { openai_route: string; openai_input: unknown } }) {
      yield { route: job.input.openai_route, request: job.input.openai_input };
      yield { second: true };
    } });
    const answer = await fetch(`${emu.baseUrl}/local/openai/v1/completions`, { method: "POST", body: JSON.stringify({ prompt: "p", stream: true }) });
    expect(answer.headers.get("content-type")).toBe("text/event-stream");
    expect(await answer.text()).toBe(
      `data: ${JSON.stringify({ route: "/v1/completions", request: { prompt: "p", stream: true } })}\n\ndata: {"second":true}\n\ndata: [DONE]\n\n`,
    );
    const plain = await call(emu, "POST", "/openai/v1/chat/completions", { messages: [] });
    expect(plain.body).toEqual([{ route: "/v1/chat/completions", request: { messages: [] } }, { second: true }]);
    expect((await call(emu, "POST", "/openai/v1/chat/completions", "[1]")).status).toBe(400);
  });
});
