# ruff: noqa: RUF001  (CJK text uses full-width punctuation on purpose)
"""A mixed corpus for checking token estimates against real tokenizers.

Every sample is made in code from a fixed seed, so the corpus is the same on
every machine and no large file is kept in the repository. Categories cover
what lands in chat and agent threads: English prose, source code, JSON tool
payloads, base64 blobs, UUIDs, hex digests, CJK text, emoji, numbers and URLs,
plus chat messages that mix them.

``corpus()`` returns ``(category, text)`` pairs; ``CATEGORIES`` names them in order.
"""

from __future__ import annotations

import base64
import json
import random
import uuid

__all__ = ["CATEGORIES", "corpus"]

CATEGORIES = (
    "prose",
    "code",
    "json",
    "base64",
    "uuid",
    "hex",
    "cjk",
    "emoji",
    "numbers",
    "urls",
    "mixed",
)

_WORD_TEXT = (
    "the of and to in is was that for it with as on be at by this had not are but from or "
    "have an they which one you were her all she there would their we him been has when "
    "who will more no if out so said what up its about into than them can only other new "
    "some could time these two may then do first any my now such like our over man me even "
    "most made after also did many before must through back years where much your way well "
    "down should because each just those people how too little state good very make world "
    "still own see men work long get here between both life being under never day same "
    "another know while last might us great old year off come since against go came right "
    "used take three himself few house use during without again place around however home "
    "small found thought went say part once general high upon school every does got united "
    "left number course war until always away something fact though water less public put "
    "think almost hand enough far took head yet government system better set told nothing "
    "night end why called didn eyes find going look asked later knew point next program "
    "city business give group toward young days let room president side social given "
    "present several order national possible rather second face per among form important "
    "often things looked early white case john become large big need four within felt "
    "along children saw best church ever least power development light thing seemed family "
    "interest want members mind country area others done turned although open problem "
    "certain kind conversation assistant weather forecast database request response "
    "message history context window summary question answer explanation reasonable "
    "temperature library configuration performance deployment customer invoice schedule "
    "meeting tomorrow"
)
_WORDS = tuple(_WORD_TEXT.split())

_CJK = (
    "今天天气很好，我们去公园散步吧。",
    "这个函数的返回值是一个列表，每个元素都是字典。",
    "请帮我总结一下这篇文章的主要内容。",
    "数据库连接失败，请检查配置文件中的用户名和密码。",
    "我明天上午十点有一个会议，需要准备报告。",
    "東京の天気は晴れ、最高気温は二十五度です。",
    "このメッセージは会話の履歴に保存されます。",
    "ご質問ありがとうございます。詳しく説明します。",
    "エラーが発生しました。しばらくしてからもう一度お試しください。",
    "오늘 회의는 오후 세 시에 시작합니다.",
    "이 문서를 한국어로 번역해 주세요.",
    "人工智能模型需要大量的训练数据和计算资源。",
    "会话记录会按照时间顺序保存在数据库里。",
    "日本語の文章と漢字の読み方を教えてください。",
)

_EMOJI = (
    "😀",
    "😂",
    "🙂",
    "😍",
    "🤔",
    "👍",
    "👎",
    "🎉",
    "🔥",
    "✅",
    "❌",
    "⚠️",
    "🚀",
    "💡",
    "📌",
    "🙏",
    "👋",
    "🤖",
    "🧠",
    "📈",
    "🐍",
    "☕",
    "🌍",
    "❤️",
    "✨",
    "🥳",
    "😅",
    "🙈",
    "👩‍💻",
    "👨‍👩‍👧",
    "🏳️‍🌈",
    "👍🏽",
    "🇫🇷",
    "🇯🇵",
    "1️⃣",
    "🫠",
    "🪐",
    "🧪",
)

_TLDS = ("com", "org", "io", "dev", "net", "co.uk")


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 18))]
    words[0] = words[0].capitalize()
    if rng.random() < 0.3:
        words.insert(rng.randint(1, len(words) - 1), rng.choice(("Paris", "Alice", "OpenAI")))
    return " ".join(words) + rng.choice((".", ".", ".", "?", "!", ","))


def prose(rng: random.Random) -> str:
    return "\n\n".join(
        " ".join(_sentence(rng) for _ in range(rng.randint(2, 5))) for _ in range(rng.randint(1, 3))
    )


def _ident(rng: random.Random) -> str:
    a, b = rng.choice(_WORDS), rng.choice(_WORDS)
    return rng.choice((f"{a}_{b}", f"{a}{b.capitalize()}", a, f"_{a}", f"{a}{rng.randint(1, 9)}"))


def code(rng: random.Random) -> str:
    name, arg, var = _ident(rng), _ident(rng), _ident(rng)
    cls = rng.choice(_WORDS).capitalize() + rng.choice(_WORDS).capitalize()
    snippets = [
        f"def {name}({arg}: list[str], limit: int = {rng.randint(1, 999)}) -> dict[str, int]:\n"
        f'    """Count {rng.choice(_WORDS)} {rng.choice(_WORDS)}."""\n'
        f"    {var} = {{}}\n"
        f"    for i, item in enumerate({arg}[:limit]):\n"
        f"        {var}[item] = {var}.get(item, 0) + i * {rng.randint(2, 64)}\n"
        f"    return {var}\n",
        f"class {cls}:\n    def __init__(self, {arg}=None):\n"
        f"        self._{var} = {arg} or []\n\n"
        f'    def __repr__(self):\n        return f"{cls}({{self._{var}!r}})"\n',
        f"const {name} = async ({arg}) => {{\n"
        f"  const res = await fetch(`/api/v1/{rng.choice(_WORDS)}/${{{arg}.id}}`);\n"
        f'  if (!res.ok) throw new Error("{rng.choice(_WORDS)} failed: " + res.status);\n'
        f"  return (await res.json()).{var} ?? [];\n}};\n",
        f"SELECT t.id, t.{var}, count(m.id) AS n\nFROM threads t\n"
        f"JOIN messages m ON m.thread_id = t.id\nWHERE t.{name} > {rng.randint(0, 10**6)}\n"
        f"GROUP BY t.id ORDER BY n DESC LIMIT {rng.randint(1, 100)};\n",
        f"fn {name}(&self, {arg}: &[u8]) -> Result<usize, Error> {{\n"
        f"    let mut {var} = 0usize;\n    for b in {arg}.iter() {{ {var} ^= *b as usize; }}\n"
        f"    Ok({var} << {rng.randint(1, 7)})\n}}\n",
    ]
    return "".join(rng.sample(snippets, rng.randint(1, 3)))


def _value(rng: random.Random, depth: int) -> object:
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return rng.randint(-(10**6), 10**9)
    if kind == 1:
        return round(rng.uniform(-1000, 1000), rng.randint(1, 6))
    if kind == 2:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 6)))
    if kind == 3:
        return rng.choice((True, False, None))
    if kind == 4:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if kind == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_ident(rng): _value(rng, depth + 1) for _ in range(rng.randint(1, 5))}


def json_payload(rng: random.Random) -> str:
    obj = {_ident(rng): _value(rng, 0) for _ in range(rng.randint(2, 8))}
    indent = rng.choice((None, None, 2))
    return json.dumps(obj, indent=indent, ensure_ascii=rng.random() < 0.5)


def b64(rng: random.Random) -> str:
    raw = rng.randbytes(rng.choice((16, 48, 120, 300, 900)))
    return (base64.urlsafe_b64encode(raw) if rng.random() < 0.3 else base64.b64encode(raw)).decode()


def uuids(rng: random.Random) -> str:
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(rng.randint(1, 30))]
    if rng.random() < 0.5:
        return ", ".join(ids)
    return "\n".join(f"- {rng.choice(_WORDS)}: {i}" for i in ids)


def hexes(rng: random.Random) -> str:
    digests = [rng.randbytes(rng.choice((4, 8, 20, 32))).hex() for _ in range(rng.randint(1, 12))]
    style = rng.randrange(3)
    if style == 0:
        return " ".join(digests)
    if style == 1:
        return "\n".join(f"commit {d}" for d in digests)
    return ", ".join("0x" + d[:16].upper() for d in digests)


def cjk(rng: random.Random) -> str:
    return "".join(rng.choice(_CJK) for _ in range(rng.randint(1, 8)))


def emoji(rng: random.Random) -> str:
    n = rng.randint(1, 150)
    sep = rng.choice(("", "", " "))
    return sep.join(rng.choice(_EMOJI) for _ in range(n))


def numbers(rng: random.Random) -> str:
    forms = (
        lambda: str(rng.randint(0, 10 ** rng.randint(1, 12))),
        lambda: f"{rng.uniform(-1e4, 1e4):.{rng.randint(1, 8)}f}",
        lambda: f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1990, 2030)}",
        lambda: f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        lambda: f"{rng.randint(0, 10**9):,}",
        lambda: f"{rng.uniform(0, 1):.3e}",
    )
    sep = rng.choice((" ", ", ", "\n"))
    return sep.join(rng.choice(forms)() for _ in range(rng.randint(1, 40)))


def urls(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 6)):
        host = f"{rng.choice(_WORDS)}.{rng.choice(_WORDS)}.{rng.choice(_TLDS)}"
        path = "/".join(
            rng.choice((rng.choice(_WORDS), str(rng.randint(1, 99999)), rng.randbytes(6).hex()))
            for _ in range(rng.randint(1, 5))
        )
        query = "&".join(
            f"{rng.choice(_WORDS)}={rng.choice((rng.choice(_WORDS), str(rng.randint(0, 999))))}"
            for _ in range(rng.randint(0, 3))
        )
        out.append(f"https://{host}/{path}" + (f"?{query}" if query else ""))
    return rng.choice((" ", "\n")).join(out)


def mixed(rng: random.Random) -> str:
    parts = [prose(rng)]
    for make in rng.sample((code, json_payload, b64, uuids, hexes, cjk, emoji, numbers, urls), 3):
        text = make(rng)
        parts.append(f"```\n{text}\n```" if make in (code, json_payload) else text)
    return "\n\n".join(parts)


_MAKERS = {
    "prose": prose,
    "code": code,
    "json": json_payload,
    "base64": b64,
    "uuid": uuids,
    "hex": hexes,
    "cjk": cjk,
    "emoji": emoji,
    "numbers": numbers,
    "urls": urls,
    "mixed": mixed,
}


def corpus(per_category: int = 40, seed: int = 20261202) -> list[tuple[str, str]]:
    """``per_category`` samples of every category, the same on every call."""
    rng = random.Random(seed)
    return [(cat, _MAKERS[cat](rng)) for cat in CATEGORIES for _ in range(per_category)]
