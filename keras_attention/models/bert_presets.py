"""BERT encoder presets: the published BERT sizes, the small BERTs, and a tiny one for tests.

`published_params` counts the published `BertModel` with its pooler (the
Hugging Face count), without the pre-training heads. The sizes the small-BERT
release quotes (4.4M, 11.3M, 29.1M, 41.7M) also count the masked-LM head
(transform dense, layer norm and output bias): they are the
`BertMaskedLM.count_params()` of these presets, rounded.
"""


def _small_bert(num_layers: int, hidden_dim: int, name: str, size: str) -> dict:
    return {
        "description": (
            f"BERT-{name} ({size} with pre-training heads): {num_layers} layers, "
            f"{hidden_dim} hidden, {hidden_dim // 64} heads (Turc et al., 2019)."
        ),
        "config": {
            "vocabulary_size": 30522,
            "num_layers": num_layers,
            "num_heads": hidden_dim // 64,
            "hidden_dim": hidden_dim,
            "intermediate_dim": 4 * hidden_dim,
            "max_sequence_length": 512,
            "num_segments": 2,
            "dropout": 0.1,
        },
    }


BERT_PRESETS = {
    "bert_base": {
        "description": "BERT base (110M): 12 layers, 768 hidden, 12 heads.",
        "published_params": 109_482_240,
        "config": {
            "vocabulary_size": 30522,
            "num_layers": 12,
            "num_heads": 12,
            "hidden_dim": 768,
            "intermediate_dim": 3072,
            "max_sequence_length": 512,
            "num_segments": 2,
            "dropout": 0.1,
        },
    },
    "bert_large": {
        "description": "BERT large (340M): 24 layers, 1024 hidden, 16 heads.",
        "published_params": 335_141_888,
        "config": {
            "vocabulary_size": 30522,
            "num_layers": 24,
            "num_heads": 16,
            "hidden_dim": 1024,
            "intermediate_dim": 4096,
            "max_sequence_length": 512,
            "num_segments": 2,
            "dropout": 0.1,
        },
    },
    "bert_tiny": {**_small_bert(2, 128, "Tiny", "4.4M"), "published_params": 4_385_920},
    "bert_mini": {**_small_bert(4, 256, "Mini", "11.3M"), "published_params": 11_170_560},
    "bert_small": {**_small_bert(4, 512, "Small", "29.1M"), "published_params": 28_763_648},
    "bert_medium": {
        **_small_bert(8, 512, "Medium", "41.7M"),
        "published_params": 41_373_184,
    },
    "bert_test": {
        "description": "A 2-layer, 32-wide BERT for tests and doctests.",
        "published_params": None,
        "config": {
            "vocabulary_size": 100,
            "num_layers": 2,
            "num_heads": 2,
            "hidden_dim": 32,
            "intermediate_dim": 64,
            "max_sequence_length": 32,
            "num_segments": 2,
            "dropout": 0.1,
        },
    },
}
