// SPDX-License-Identifier: MIT
//
// Dump a GGUF file's header, metadata and tensor infos as @huggingface/gguf
// (an independent reader, installed by scripts/install-npm.sh) reads them,
// one canonical line each, for llm_gguf_model's cross-check:
//
//   version 3 | tensor_count N | kv_count N | data_offset N
//   kv KEY VALUE        (arrays: [count] then the elements)
//   tensor NAME n_dims D0 D1 .. type T offset O
//
// Integers in decimal, non-integer numbers as the hex bits of their f32,
// strings as the hex of their UTF-8 bytes, booleans as true/false.
//
//   NODE_PATH=<node_modules> node gguf_dump.js FILE
"use strict";

const { gguf } = require("@huggingface/gguf");

function value(v) {
	if (typeof v === "bigint")
		return v.toString();
	if (typeof v === "boolean")
		return v ? "true" : "false";
	if (typeof v === "string")
		return "s:" + Buffer.from(v, "utf8").toString("hex");
	if (typeof v === "number") {
		if (Number.isInteger(v))
			return v.toString();
		const u = new Uint32Array(new Float32Array([v]).buffer);
		return "f:" + u[0].toString(16).padStart(8, "0");
	}
	if (Array.isArray(v))
		return "[" + v.length + "]" + v.map((e) => " " + value(e)).join("");
	throw new Error("unexpected value " + v);
}

(async () => {
	const r = await gguf(process.argv[2], { allowLocalFile: true });
	const lines = [];
	const m = r.metadata;

	lines.push("version " + m.version);
	lines.push("tensor_count " + m.tensor_count.toString());
	lines.push("kv_count " + m.kv_count.toString());
	lines.push("data_offset " + r.tensorDataOffset.toString());
	for (const k of Object.keys(m)) {
		if (k === "version" || k === "tensor_count" || k === "kv_count")
			continue;
		lines.push("kv " + k + " " + value(m[k]));
	}
	for (const t of r.tensorInfos)
		lines.push("tensor " + t.name + " n_dims " + t.n_dims + " " +
			   t.shape.map((d) => d.toString()).join(" ") + " type " + t.dtype +
			   " offset " + t.offset.toString());
	process.stdout.write(lines.join("\n") + "\n");
})().catch((e) => {
	process.stderr.write("gguf_dump.js: " + (e && e.stack ? e.stack : e) + "\n");
	process.exit(1);
});
