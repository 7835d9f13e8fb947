"""Speed-critical composites with their own rules (softmax, cross-entropy, conv, pooling,
normalisation, embedding, attention)."""
