"""Reference side of the tokenizer cases in test/hf-parity.test.ts: tokenizers built here (no downloads) by
the `tokenizers` library and by transformers' own tokenizer classes, saved as model folders, then loaded
back with AutoTokenizer and asked what transformers does with them.

  tok_parity.py OUT INPUTS.json [NAME=DIR ...]
      writes OUT/<case>/ (tokenizer.json, tokenizer_config.json) and OUT/ref.json, with the same reference
      for each existing model folder DIR (under NAME)

INPUTS.json: {"texts": [str], "conversations": [[{"role", "content"}]]}. ref.json, per case: the class
AutoTokenizer chose, tokenizer(text) ids, tokenizer(text, add_special_tokens=False) ids, and for each
conversation apply_chat_template's text and ids with and without add_generation_prompt (or the error).
"""
import json
import os
import sys

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import AutoTokenizer, LlamaTokenizer  # noqa: E402

CORPUS = [
    "The quick brown fox jumps over the lazy dog. Hello world, hello there!",
    "naïve café ☕ — 日本語のテキスト 🙂 Ünïcödé and façade; déjà vu.",
    "  leading spaces, tabs\tand\nnew lines\n\n  trailing  ",
    "What is 2+2? It is 4. And 3+3? That makes 6. Be brief, be kind.",
    "system user assistant: You are helpful. Answer the question.",
] * 30

# --- chat templates written for these tests (features real ones use) ---------------------------------
CHATML = """{%- if tools is defined and tools is not none %}TOOLS {{ tools | tojson }}{% endif %}
{%- for message in messages %}
    {%- if loop.first and message.role != 'system' %}
<|im_start|>system
You are a helpful assistant.<|im_end|>
    {% endif %}
<|im_start|>{{ message.role }}
{{ message.content | trim }}<|im_end|>
{% endfor %}
{%- if add_generation_prompt %}
<|im_start|>assistant
{% endif %}"""

HEADERS = """{{- bos_token }}
{%- if date_string is not defined %}{%- set date_string = strftime_now("%Y") %}{%- endif %}
{{- 'Year: ' + date_string + '\\n' }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"""

INST = """{%- if messages[0]['role'] == 'system' %}
    {%- set system = messages[0]['content'] %}{%- set rest = messages[1:] %}
{%- else %}
    {%- set system = '' %}{%- set rest = messages %}
{%- endif %}
{%- for message in rest %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('roles must alternate user/assistant') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- set text = ('<<SYS>> ' + system + ' <</SYS>> ' if loop.first and system else '') + message['content'] %}
        {{- bos_token + '[INST] ' + text.strip() + ' [/INST]' }}
    {%- else %}
        {{- ' ' + message['content'].strip() + ' ' + eos_token }}
    {%- endif %}
{%- endfor %}"""

ZEPHYR = """{% for m in messages %}{{ '<|' + m.role + '|>\\n' + m.content + eos_token + '\\n' }}{% endfor %}
{%- if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"""

ROLES = """{% if unk_token is defined %}{{ unk_token }}{% endif %}{{ cls_token }}
{%- for m in messages %}{{ m.role }}: {{ m.content }}{{ sep_token }}{% endfor %}
{%- if add_generation_prompt %}assistant:{% endif %}"""


def byte_level_bpe(specials):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def write(d, tok_json, config):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok_json, f, ensure_ascii=False)
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False)


def case_bytelevel(d):
    """(a) GPT-2-style byte-level BPE, ByteLevel post-processor: no BOS although bos_token is set (SmolLM2, Qwen).
    Its bos_token is in the vocabulary but not an added token: transformers adds it when loading."""
    tok = byte_level_bpe(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    j = json.loads(tok.to_str())
    j["added_tokens"] = [a for a in j["added_tokens"] if a["content"] != "<|im_start|>"]
    write(d, j, {"tokenizer_class": "GPT2Tokenizer", "bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
                 "unk_token": "<|endoftext|>", "add_prefix_space": False, "model_max_length": 2048, "chat_template": CHATML})


def headers_bpe():
    tok = byte_level_bpe(["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    return json.loads(tok.to_str())


def case_template_bos(d):
    """(b) a post-processor (Sequence of ByteLevel and TemplateProcessing) that adds BOS (Llama 3 style)."""
    write(d, headers_bpe(), {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                             "model_max_length": 2048, "chat_template": HEADERS})


def llama_tokenizer(add_bos, add_eos, template):
    """A Llama-style (Metaspace, byte fallback) BPE made by transformers' LlamaTokenizer, which bakes
    add_bos_token/add_eos_token into the post-processor it saves."""
    bytes_ = [f"<0x{i:02X}>" for i in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>", "<s>", "</s>", *bytes_], show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    m = json.loads(tok.to_str())["model"]
    return LlamaTokenizer(vocab=m["vocab"], merges=[tuple(x) if isinstance(x, list) else tuple(x.split(" ")) for x in m["merges"]],
                          add_bos_token=add_bos, add_eos_token=add_eos, chat_template=template)


def save_llama(d, tok, **config):
    tok.save_pretrained(d)
    p = os.path.join(d, "tokenizer_config.json")
    with open(p, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg.update(config)  # as transformers 4 wrote them (5 leaves them out)
    with open(p, "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False)


def case_llama_bos_eos(d):
    """(c) Llama-style config with add_bos_token and add_eos_token true."""
    save_llama(d, llama_tokenizer(True, True, INST), tokenizer_class="LlamaTokenizerFast", add_bos_token=True, add_eos_token=True)


def case_llama_no_bos(d):
    """(d) add_bos_token false (and its post-processor made from it: nothing added)."""
    save_llama(d, llama_tokenizer(False, False, ZEPHYR), tokenizer_class="LlamaTokenizerFast", add_bos_token=False, add_eos_token=False)


def case_conflict(d):
    """(d') add_bos_token false / add_eos_token true in the config, but a post-processor that adds BOS only:
    transformers 5 follows tokenizer.json."""
    write(d, headers_bpe(), {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                             "add_bos_token": False, "add_eos_token": True, "chat_template": HEADERS})


def case_roberta(d):
    """(e) RobertaProcessing: <s> before and </s> after every text; the template uses cls/sep/unk tokens."""
    tok = byte_level_bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    write(d, json.loads(tok.to_str()), {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
                                        "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>", "chat_template": ROLES})


CASES = {"bytelevel": case_bytelevel, "template-bos": case_template_bos, "llama-bos-eos": case_llama_bos_eos,
         "llama-no-bos": case_llama_no_bos, "conflict": case_conflict, "roberta": case_roberta}


def attempt(fn):
    try:
        return fn()
    except Exception as e:  # the template's raise_exception, or a template transformers cannot render
        return {"error": str(e)}


def main(out, inputs_path, existing):
    with open(inputs_path, encoding="utf-8") as f:
        inputs = json.load(f)
    ref = {}
    dirs = {}
    for name, make in CASES.items():
        dirs[name] = os.path.join(out, name)
        make(dirs[name])
    for arg in existing:
        name, d = arg.split("=", 1)
        dirs[name] = d
    for name, d in dirs.items():
        t = AutoTokenizer.from_pretrained(d)
        chats = []
        for conv in inputs["conversations"]:
            chats.append({
                "gen": attempt(lambda: t.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)),
                "plain": attempt(lambda: t.apply_chat_template(conv, tokenize=False, add_generation_prompt=False)),
                "genIds": attempt(lambda: t.apply_chat_template(conv, tokenize=True, add_generation_prompt=True, return_dict=False)),
                "plainIds": attempt(lambda: t.apply_chat_template(conv, tokenize=True, add_generation_prompt=False, return_dict=False)),
            })
        ref[name] = {
            "class": type(t).__name__,
            "bosId": t.bos_token_id,
            "eosId": t.eos_token_id,
            "ids": [t(x)["input_ids"] for x in inputs["texts"]],
            "raw": [t(x, add_special_tokens=False)["input_ids"] for x in inputs["texts"]],
            "chats": chats,
        }
    with open(os.path.join(out, "ref.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
