// SPDX-License-Identifier: MIT
//
// The oracle of llm_tokenizer_gguf: two independent JavaScript tokenizers
// (installed by scripts/install-npm.sh) and the GGUF files of their
// vocabularies, so that our C tokenizers can be compared with them id for id.
//
//   llama-tokenizer-js   Llama 2's sentencepiece vocabulary and merges
//   llama3-tokenizer-js  Llama 3's byte-level BPE vocabulary and merges
//
// Writes into OUTDIR:
//   llama2.gguf, llama3.gguf  tokenizer.ggml.* as llama.cpp's converter
//                             writes them for those models (no tensors)
//   corpus.tsv                per line: the text's UTF-8 in hex, a tab, the
//                             Llama 2 ids (no BOS), a tab, the Llama 3 ids
//   special.tsv               the same for text with special tokens that
//                             Llama 3 encodes as specials, with BOS
//
//   node tokenizer_oracle.mjs NODE_MODULES OUTDIR
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createRequire } from "node:module";

const [modules, outdir] = process.argv.slice(2);
const load = async (p) => (await import(pathToFileURL(path.join(modules, p)).href)).default;
const llama2 = await load("llama-tokenizer-js/llama-tokenizer.js");
const llama3 = await load("llama3-tokenizer-js/bundle/llama3-tokenizer-with-baked-data.js");

// ---- a minimal GGUF v3 writer: metadata only ------------------------------
const T = { UINT32: 4, INT32: 5, FLOAT32: 6, STRING: 8, ARRAY: 9 };

class Writer {
	constructor() { this.parts = []; this.count = 0; }
	u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.parts.push(b); }
	u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.parts.push(b); }
	str(s) { const b = Buffer.from(s, "utf8"); this.u64(b.length); this.parts.push(b); }
	kv(key, type, value, elemType) {
		this.count++;
		this.str(key);
		this.u32(type);
		if (type === T.ARRAY) {
			this.u32(elemType);
			this.u64(value.length);
			if (elemType === T.STRING) {
				for (const s of value)
					this.str(s);
			} else {
				const b = Buffer.alloc(4 * value.length);
				value.forEach((v, i) => elemType === T.FLOAT32 ? b.writeFloatLE(v, 4 * i) :
					     elemType === T.INT32 ? b.writeInt32LE(v, 4 * i) : b.writeUInt32LE(v, 4 * i));
				this.parts.push(b);
			}
		} else if (type === T.STRING) {
			this.str(value);
		} else {
			this.u32(value);
		}
	}
	write(file) {
		const head = Buffer.alloc(24);
		head.write("GGUF", 0, "latin1");
		head.writeUInt32LE(3, 4);
		head.writeBigUInt64LE(0n, 8);			// tensors
		head.writeBigUInt64LE(BigInt(this.count), 16);	// key-value pairs
		let body = Buffer.concat([head, ...this.parts]);
		const pad = (32 - (body.length % 32)) % 32;	// general.alignment's default
		fs.writeFileSync(file, Buffer.concat([body, Buffer.alloc(pad)]));
	}
}

// Llama 2: llama.cpp's types (unknown, control, byte, normal). The scores of
// sentencepiece's model order its merges; the package keeps the merges
// instead, so a token's score is minus the rank of the first merge that
// makes it (single characters, never made, score below every merge).
{
	const v = llama2.vocabById;
	const firstRank = new Map();
	let rank = 0;
	for (const key of llama2.merges.keys()) {
		const id = llama2.vocabByString.get(key.replace(" ", ""));
		if (!firstRank.has(id))
			firstRank.set(id, rank);
		rank++;
	}
	const scores = v.map((t, id) => firstRank.has(id) ? -firstRank.get(id) : -1e9);
	const types = v.map((t, id) => id === 0 ? 2 : id <= 2 ? 3 : id <= 258 ? 6 : 1);
	const w = new Writer();
	w.kv("general.architecture", T.STRING, "llama");
	w.kv("tokenizer.ggml.model", T.STRING, "llama");
	w.kv("tokenizer.ggml.tokens", T.ARRAY, v, T.STRING);
	w.kv("tokenizer.ggml.scores", T.ARRAY, scores, T.FLOAT32);
	w.kv("tokenizer.ggml.token_type", T.ARRAY, types, T.INT32);
	w.kv("tokenizer.ggml.bos_token_id", T.UINT32, 1);
	w.kv("tokenizer.ggml.eos_token_id", T.UINT32, 2);
	w.kv("tokenizer.ggml.unknown_token_id", T.UINT32, 0);
	w.kv("tokenizer.chat_template", T.STRING,
	     "{% for message in messages %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}{% endfor %}");
	w.write(path.join(outdir, "llama2.gguf"));
}

// Llama 3: the 256 specials after the 128000 BPE tokens are control tokens.
{
	const v = llama3.vocabById;
	const types = v.map((t, id) => id >= 128000 ? 3 : 1);
	const w = new Writer();
	w.kv("general.architecture", T.STRING, "llama");
	w.kv("tokenizer.ggml.model", T.STRING, "gpt2");
	w.kv("tokenizer.ggml.pre", T.STRING, "llama-bpe");
	w.kv("tokenizer.ggml.tokens", T.ARRAY, v, T.STRING);
	w.kv("tokenizer.ggml.token_type", T.ARRAY, types, T.INT32);
	w.kv("tokenizer.ggml.merges", T.ARRAY, [...llama3.merges.keys()], T.STRING);
	w.kv("tokenizer.ggml.bos_token_id", T.UINT32, 128000);
	w.kv("tokenizer.ggml.eos_token_id", T.UINT32, 128001);
	w.kv("tokenizer.ggml.eot_token_id", T.UINT32, 128009);
	w.kv("tokenizer.chat_template", T.STRING,
	     "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}");
	w.write(path.join(outdir, "llama3.gguf"));
}

// Our writer checked by an independent reader.
{
	const require = createRequire(path.join(modules, "x.js"));
	const { gguf } = require("@huggingface/gguf");
	for (const [name, tok] of [["llama2", llama2], ["llama3", llama3]]) {
		const r = await gguf(path.join(outdir, name + ".gguf"), { allowLocalFile: true });
		const toks = r.metadata["tokenizer.ggml.tokens"];
		if (toks.length !== tok.vocabById.length || toks[toks.length - 1] !== tok.vocabById.at(-1))
			throw new Error(name + ".gguf does not read back");
	}
}

// ---- the corpus ------------------------------------------------------------
const corpus = [
	// English, contractions in both cases, quotes
	"Hello world",
	"The quick brown fox jumps over the lazy dog.",
	"I'm sure you're right, but they'll say it's what we'd've done.",
	"DON'T SHOUT, I'M LISTENING. She'S HERE'LL",
	"'s 't 're at the start, and ''quoted'' words",
	"Once upon a time, there was a little girl named Lily.",
	"naïve café résumé façade coöperate",
	"e\u0301 combining acute, a\u0308 and \u212b",
	// other scripts
	"日本語のテキストです。東京は晴れ。",
	"你好，世界！今天天气很好。",
	"한국어 문장도 있습니다.",
	"Привет, мир! Как дела? Ёлка и ёж.",
	"مرحبا بالعالم، كيف حالك؟",
	"नमस्ते दुनिया, आप कैसे हैं?",
	"Γειά σου Κόσμε· ελληνικά",
	"שלום עולם",
	"ภาษาไทย ไม่มีช่องว่าง",
	// code
	"int main(void) { return 0; }",
	"def f(x):\n    return x ** 2  # square\n",
	"for (i = 0; i < n; i++) {\n\tsum += a[i];\n}",
	"<div class=\"x\">&amp;</div> <a href='https://example.com/?q=1&r=2'>link</a>",
	"SELECT * FROM users WHERE id = 42;",
	"x=>x*2; y != z && a || b; ~!@#$%^&*()_+-=[]{}|\\:;\"'<>,.?/",
	// whitespace runs
	"two  spaces   three    four",
	"   leading spaces",
	"trailing spaces   ",
	"\ttab\t\tdouble tab\t",
	"line one\nline two\n\nline four\r\nwindows\r\n",
	"\n\n\n",
	"  \n  \n",
	" \t \n\t mixed",
	"word\u00a0nbsp and\u3000ideographic space",
	"    ",
	// digits
	"1234567890",
	"3.14159 and 2.71828",
	"2026-12-08 04:10:00 UTC",
	"1,000,000 is 10^6; 007 agents; 12 34 567 8901",
	"٣٤٥ Arabic-Indic and १२३ Devanagari digits, Ⅻ and ½",
	// emoji and symbols
	"😀 grinning, 👍🏽 thumbs up, 👨‍👩‍👧 family",
	"emoji at the end 🎉🎉",
	"€100 £50 ¥1000 ₹500 © ® ™ ° ±",
	"Mixed: The 3 bears (and 12 ducks) went 'home' — quickly!",
];

const hex = (s) => Buffer.from(s, "utf8").toString("hex");
fs.writeFileSync(path.join(outdir, "corpus.tsv"), corpus.map((s) =>
	hex(s) + "\t" + llama2.encode(s, false, true).join(" ") + "\t" +
	llama3.encode(s, { bos: false, eos: false }).join(" ") + "\n").join(""));

const special = [
	"<|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
	"text<|eot_id|>more text <|end_of_text|>",
];
fs.writeFileSync(path.join(outdir, "special.tsv"), special.map((s) =>
	hex(s) + "\t\t" + llama3.encode(s, { bos: true, eos: false }).join(" ") + "\n").join(""));
