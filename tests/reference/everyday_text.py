"""Everyday strings that a lossy tokenizer alters: the round-trip list of
issue 23 (decimals, thousands separators, currency, percentages, times,
dates, straight and curly quotes, apostrophes, parentheses, colons, dashes,
URLs, e-mail addresses, accented Latin, Chinese, Arabic, emoji, repeated
spaces). `detokenize(tokenize(text)) == text` must hold for each."""

EVERYDAY = [
    "3.14",
    "Pi is about 3.14159.",
    "1,234.56",
    "$5,000",
    "It costs $5,000 (about €4,600).",
    "£3.50 or ¥100",
    "4.5%",
    "Sales rose 4.5% to 12.3%.",
    "Meet at 10:30 a.m., not 22:15.",
    "Due on 2024-03-05, i.e. 5/3/2024.",
    "Tuesday, March 5, 2024",
    '"Hello," she said.',
    "'single quotes'",
    "“Hello”, she said — ‘quietly’.",
    "don't",
    "don’t",
    "It's the dog's bone; they're here.",
    "(parentheses) [brackets] {braces}",
    "Note: the colon keeps its space.",
    "Note:no space",
    "a - b – c — d",
    "well-known, self-evident",
    "https://example.com/path?q=1&r=two#frag",
    "See http://www.python.org/dev/peps/pep-0008/ for style.",
    "Write to jane.doe@example.org or a_b+c@mail.example.co.uk.",
    "café, naïve, Ærøskøbing, São Paulo, Łódź",
    "Straße und Größe",
    "中文字符和标点。",
    "مرحبا بالعالم",
    "Emoji: 😀 👍🏽 🇪🇸",
    "two  spaces   and three",
    "   leading and trailing   ",
    "a\ttab and a\nnewline",
    "%s of %d files (%(name)s) {0}",
    "--help, -v, --max-new-tokens=5",
    "C:\\Users\\me\\file.txt",
    "x = y + 2 * (z - 1) / 3 ** 4 != 5",
    "",
]


def everyday_prompts(tokenizer, max_tokens: int) -> list[str]:
    """The non-empty everyday strings of at most `max_tokens` ids under
    `tokenizer` (prompts that fit a tiny model's window)."""
    lengths = tokenizer.tokenize(EVERYDAY).row_lengths().numpy()
    return [text for text, length in zip(EVERYDAY, lengths) if 0 < length <= max_tokens]
