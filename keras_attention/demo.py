"""A one-minute demonstration built only from `keras_attention.layers`.

The task is sequence reversal: output position `i` must copy input position
`length - 1 - i`. A single self-attention layer solves it by attending along
the anti-diagonal, and that is exactly what the printed attention matrix shows
after training. Without positions the task is impossible (self-attention alone
ignores order), so the demo also shows why a position encoding is added.
"""

from __future__ import annotations

import numpy as np

import keras

from keras_attention import layers

SEQUENCE_LENGTH = 8
VOCABULARY_SIZE = 12  # 0 is padding; tokens are 1 .. 11
HIDDEN_DIM = 32


def reversal_data(num_examples: int, seed: int = 0):
    """Random token sequences and their reversals."""
    rng = np.random.default_rng(seed)
    inputs = rng.integers(1, VOCABULARY_SIZE, size=(num_examples, SEQUENCE_LENGTH))
    return inputs.astype("int32"), inputs[:, ::-1].astype("int32")


def build_model(num_heads: int = 2) -> keras.Model:
    token_ids = keras.Input((SEQUENCE_LENGTH,), dtype="int32", name="token_ids")
    x = layers.TokenAndPositionEmbedding(
        VOCABULARY_SIZE, SEQUENCE_LENGTH, HIDDEN_DIM, position="learned"
    )(token_ids)
    x = layers.TransformerEncoderBlock(
        num_heads=num_heads, intermediate_dim=4 * HIDDEN_DIM, name="encoder_block"
    )(x)
    logits = keras.layers.Dense(VOCABULARY_SIZE, name="logits")(x)
    return keras.Model(token_ids, logits)


def attention_weights(model: keras.Model, token_ids: np.ndarray) -> np.ndarray:
    """The encoder block's attention weights, `(batch, heads, length, length)`."""
    embedding, block = model.layers[1], model.get_layer("encoder_block")
    _, scores = block(embedding(token_ids), return_attention_scores=True)
    return keras.ops.convert_to_numpy(scores)


def format_matrix(matrix: np.ndarray, row_labels, column_labels) -> str:
    header = "      " + " ".join(f"{label:>5}" for label in column_labels)
    rows = [
        f"{row_label:>5} " + " ".join(f"{value:5.2f}" for value in row)
        for row_label, row in zip(row_labels, matrix)
    ]
    return "\n".join([header] + rows)


def main(epochs: int = 4, steps_per_epoch: int = 150, seed: int = 0) -> float:
    keras.utils.set_random_seed(seed)
    train_x, train_y = reversal_data(epochs * steps_per_epoch * 32, seed)
    test_x, test_y = reversal_data(512, seed + 1)
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=True,
    )
    print(
        f"Training a 1-layer transformer encoder ({model.count_params():,} "
        "parameters) to reverse sequences of 8 tokens."
    )
    model.fit(train_x, train_y, batch_size=32, epochs=epochs, verbose=2)
    _, accuracy = model.evaluate(test_x, test_y, verbose=0)
    print(f"\nHeld-out token accuracy: {accuracy:.4f}")

    example = test_x[:1]
    prediction = np.argmax(model.predict(example, verbose=0), axis=-1)
    print(f"input:      {example[0].tolist()}")
    print(f"reversed:   {prediction[0].tolist()}")
    weights = attention_weights(model, example)[0]
    for head, matrix in enumerate(weights):
        print(f"\nAttention weights of head {head} (rows: output positions, "
              "columns: input positions):")
        print(format_matrix(matrix, range(SEQUENCE_LENGTH), range(SEQUENCE_LENGTH)))
    return accuracy
