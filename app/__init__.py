"""Fashion-MNIST classification service (FastAPI + LiteRT; never TensorFlow)."""
