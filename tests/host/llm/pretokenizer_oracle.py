#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# The oracle of llm_tokenizer_gguf's pre-tokenizer test: the Llama 3
# ("llama-bpe") and Qwen2 ("qwen2") regular expressions themselves, run by
# Python's third-party `regex` module (which has \p{L}, \p{N}, (?i:) and
# \s as Unicode's White_Space, like the Oniguruma/Rust engines Hugging Face
# tokenizers use), over fixed texts and seeded random ones.
#
# One line per text: its UTF-8 in hex, a tab, the byte offsets where the
# Llama 3 words end, a tab, Qwen2's. Exit status 3 without `regex`.
#
#   python3 pretokenizer_oracle.py [COUNT]
import random
import sys

try:
    import regex
except ImportError:
    print("python3 module regex is not installed", file=sys.stderr)
    sys.exit(3)

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")

FIXED = [
    "Hello world", "I'm sure they'LL say it's theirs", "'s'S'tx'rE 've", "a  b   c    ",
    "\t\tx\n\n  \r\n y", "12345 6789012", "x=1;y=22;z=333", "naïve e\u0301 \u212b",
    "日本語 テキスト。", "Привет, мир!", "مرحبا بالعالم", "नमस्ते दुनिया",
    "😀👍🏽 👨\u200d👩\u200d👧", "\u00a0\u3000\u2003word", "...!!! ??", " (x) [y] {z}",
    "line\r\nline\rline\n", "   ", "\n", "a\n\n\nb", "٣٤٥١٢ ½Ⅻ", "'", "''s", "x'",
]

# Characters of every class the rules tell apart, and their neighbours.
ALPHABET = (list("aZé'sStTlLdDmMrReEvV019") + [" ", " ", "  ", "\t", "\n", "\r", "\r\n",
            "\u00a0", "\u3000", "\u2003", "\u0085"] + list(".,!?;:-_()[]{}\"#/\\*&^%$@~`|+=<>") +
            ["日", "本", "ф", "Ж", "ب", "न", "\u0301", "\u093f", "٣", "½", "Ⅻ", "😀", "🏽",
             "\u200d", "€", "\u00ad"])


def ends(pattern, s):
    out, pos = [], 0
    for m in regex.finditer(pattern, s):
        # The rules cover every character: the words tile the text.
        assert m.start() == pos, (s, m.start(), pos)
        pos = m.end()
        out.append(len(s[:pos].encode("utf-8")))
    assert pos == len(s)
    return out


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rng = random.Random(20261208)
    texts = FIXED + ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 24)))
                     for _ in range(count)]
    for s in texts:
        print(s.encode("utf-8").hex() + "\t" + " ".join(map(str, ends(LLAMA3, s))) + "\t" +
              " ".join(map(str, ends(QWEN2, s))))


if __name__ == "__main__":
    main()
