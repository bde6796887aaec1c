"""Offline training, evaluation and export of Fashion-MNIST models (TensorFlow/Keras)."""
