"""GPT decoder presets: published GPT-2 sizes and tiny ones for tests and CPU demos.

The GPT-2 presets are GPT-2 as published: the tanh GELU and no pad token
(its id 0 is `"!"`), as `GPTDecoder.from_pretrained` builds them, so a
recipe with `model.init_from` a converted GPT-2 run names the preset and
nothing else. The project's own GPTs keep the exact GELU and pad id 0.
"""

GPT_PRESETS = {
    "gpt2_small": {
        "description": "GPT-2 small (124M): 12 layers, 768 hidden, 12 heads.",
        "published_params": 124_439_808,
        "config": {
            "vocabulary_size": 50257,
            "num_layers": 12,
            "num_heads": 12,
            "hidden_dim": 768,
            "intermediate_dim": 3072,
            "max_sequence_length": 1024,
            "dropout": 0.1,
            "activation": "gelu_approximate",
            "pad_token_id": None,
        },
    },
    "gpt2_medium": {
        "description": "GPT-2 medium (355M): 24 layers, 1024 hidden, 16 heads.",
        "published_params": 354_823_168,
        "config": {
            "vocabulary_size": 50257,
            "num_layers": 24,
            "num_heads": 16,
            "hidden_dim": 1024,
            "intermediate_dim": 4096,
            "max_sequence_length": 1024,
            "dropout": 0.1,
            "activation": "gelu_approximate",
            "pad_token_id": None,
        },
    },
    "gpt_mini": {
        "description": "A 4-layer, 256-wide GPT for CPU training recipes.",
        "published_params": None,
        "config": {
            "vocabulary_size": 8000,
            "num_layers": 4,
            "num_heads": 4,
            "hidden_dim": 256,
            "intermediate_dim": 1024,
            "max_sequence_length": 256,
            "dropout": 0.1,
        },
    },
    "gpt_tiny": {
        "description": "A 2-layer, 32-wide GPT for tests.",
        "published_params": None,
        "config": {
            "vocabulary_size": 100,
            "num_layers": 2,
            "num_heads": 2,
            "hidden_dim": 32,
            "intermediate_dim": 64,
            "max_sequence_length": 64,
            "dropout": 0.0,
        },
    },
}
