// SPDX-License-Identifier: MIT
//
// jalrt-serve through the official openai npm client (run by
// serve_test.py with NODE_PATH at the installed package):
//   node openai_client.cjs SPEC.json
// SPEC: {baseURL, apiKey, model, cases: [{kind, prompt, max_tokens, text,
// finish}]}; kind is completion, completion-stream, chat or chat-stream.
// Every case runs at once; then error cases. One JSON line per result:
// {"name", "ok", "detail"}.
"use strict";

const fs = require("fs");
const OpenAI = require("openai");

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const client = new OpenAI({ baseURL: spec.baseURL, apiKey: spec.apiKey, maxRetries: 0,
	timeout: 300000 });

function report(name, ok, detail) {
	console.log(JSON.stringify({ name, ok: !!ok, detail: ok ? undefined : detail }));
}

async function runCase(c) {
	const chat = c.kind.startsWith("chat");
	const stream = c.kind.endsWith("stream");
	const common = { model: spec.model, max_tokens: c.max_tokens, temperature: 0 };
	let text = "", finish = null;
	if (chat) {
		const args = { ...common, messages: [{ role: "user", content: c.prompt }] };
		if (stream) {
			const s = await client.chat.completions.create({ ...args, stream: true });
			for await (const chunk of s) {
				for (const ch of chunk.choices) {
					text += ch.delta.content || "";
					if (ch.finish_reason) finish = ch.finish_reason;
				}
			}
		} else {
			const r = await client.chat.completions.create(args);
			text = r.choices[0].message.content;
			finish = r.choices[0].finish_reason;
		}
	} else {
		const args = { ...common, prompt: c.prompt };
		if (stream) {
			const s = await client.completions.create({ ...args, stream: true });
			for await (const chunk of s) {
				for (const ch of chunk.choices) {
					text += ch.text || "";
					if (ch.finish_reason) finish = ch.finish_reason;
				}
			}
		} else {
			const r = await client.completions.create(args);
			text = r.choices[0].text;
			finish = r.choices[0].finish_reason;
		}
	}
	return { text, finish };
}

async function expectStatus(name, status, fn) {
	try {
		await fn();
		report(name, false, "no error");
	} catch (e) {
		report(name, e instanceof OpenAI.APIError && e.status === status &&
		       e.error && e.error.message,
		       `${e.constructor.name} ${e.status} ${e.message}`);
	}
}

(async () => {
	const results = await Promise.allSettled(spec.cases.map(runCase));
	results.forEach((r, i) => {
		const c = spec.cases[i];
		const name = `#${i} ${c.kind} ${JSON.stringify(c.prompt)} equals the prompt alone`;
		if (r.status === "rejected")
			report(name, false, String(r.reason));
		else
			report(name, r.value.text === c.text && r.value.finish === c.finish,
			       `got ${JSON.stringify(r.value)}, want ${JSON.stringify({ text: c.text, finish: c.finish })}`);
	});
	const models = await client.models.list();
	report("models.list() has the model",
	       models.data.length === 1 && models.data[0].id === spec.model,
	       JSON.stringify(models.data));
	await expectStatus("unknown model: NotFoundError 404", 404, () =>
		client.completions.create({ model: "no-such-model", prompt: "x", max_tokens: 2 }));
	const bad = new OpenAI({ baseURL: spec.baseURL, apiKey: "wrong", maxRetries: 0 });
	await expectStatus("wrong API key: AuthenticationError 401", 401, () =>
		bad.completions.create({ model: spec.model, prompt: "x", max_tokens: 2 }));
})().catch((e) => {
	console.error(e);
	process.exit(1);
});
